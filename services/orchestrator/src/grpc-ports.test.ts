// The reference port over real gRPC: a reference that is briefly unreachable (restarting) costs a
// retry, not the step; one that stays away fails the step within the bound; bad input is not retried.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { ReferenceService } from "@grpomesh/proto";
import { RpcCallError, Status, bindService, invalidArgument, startServer, type RunningServer } from "@grpomesh/rpc";
import { encodeTensor } from "@grpomesh/tensor";
import { GrpcReference } from "./grpc-ports.ts";

const B = 2,
  T = 3,
  V = 4;

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function startReference(port: number, calls: { n: number }, refuse = false): Promise<RunningServer> {
  return startServer({
    address: `127.0.0.1:${port}`,
    services: [
      bindService(
        ReferenceService,
        {
          logProbs: () => {
            calls.n++;
            if (refuse) throw invalidArgument("inputs are not what this reference expects");
            return { distributions: encodeTensor(new Float32Array(B * T * V).fill(-1), [B, T, V]) };
          },
          info: () => ({}),
        },
        [],
      ),
    ],
  });
}

test("LogProbs waits out a reference restart (UNAVAILABLE, then served on the same address)", async () => {
  const port = await freeLoopbackPort();
  const calls = { n: 0 };
  const lines: string[] = [];
  const reference = new GrpcReference(`127.0.0.1:${port}`, { deadlineMs: 5_000, retry: { unavailableMs: 20_000, log: (l) => lines.push(l) } });
  let server: RunningServer | undefined;
  const restart = setTimeout(async () => (server = await startReference(port, calls)), 700);
  try {
    const out = await reference.logProbs(new Int32Array(B * T), { batch: B, seqLen: T }, 1);
    assert.equal(out.length, B * T * V);
    assert.equal(calls.n, 1);
    assert.ok(lines.length >= 1 && /is unavailable .*; retrying in/.test(lines[0]!), lines.join("\n"));
  } finally {
    clearTimeout(restart);
    reference.close();
    await server?.shutdown(100);
  }
});

test("a reference that stays away fails the step within the bound; bad input fails at once", async () => {
  const port = await freeLoopbackPort();
  const away = new GrpcReference(`127.0.0.1:${port}`, { deadlineMs: 2_000, retry: { unavailableMs: 1_000 } });
  const t0 = Date.now();
  await assert.rejects(away.logProbs(new Int32Array(B * T), { batch: B, seqLen: T }, 1), (e: RpcCallError) => e.code === Status.UNAVAILABLE);
  assert.ok(Date.now() - t0 < 4_000, `gave up after ${Date.now() - t0} ms with a 1 s bound`);
  away.close();

  const calls = { n: 0 };
  const server = await startReference(port, calls, true);
  const refusing = new GrpcReference(`127.0.0.1:${port}`, { deadlineMs: 2_000, retry: { unavailableMs: 10_000 } });
  try {
    await assert.rejects(refusing.logProbs(new Int32Array(B * T), { batch: B, seqLen: T }, 1), (e: RpcCallError) => e.code === Status.INVALID_ARGUMENT);
    assert.equal(calls.n, 1, "INVALID_ARGUMENT is not retried");
  } finally {
    refusing.close();
    await server.shutdown(100);
  }
});
