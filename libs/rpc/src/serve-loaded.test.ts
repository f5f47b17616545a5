import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { JudgeService } from "@grpomesh/proto";
import { bindService, checkHealth, serveWhileLoading, unavailable } from "./index.ts";

const handlers = bindService(
  JudgeService,
  {
    score: () => {
      throw unavailable("not loaded");
    },
    info: () => ({ modelName: "m" }),
    loadModel: () => ({}),
  },
  ["LoadModel"],
);

/** Binds `port` on loopback (0 = any) and releases it; rejects if it is taken. */
function probePort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const bound = (srv.address() as { port: number }).port;
      srv.close(() => resolve(bound));
    });
  });
}

test("NOT_SERVING while the model loads, SERVING after; shutdown frees the model", async () => {
  const address = `127.0.0.1:${await probePort(0)}`;
  let release!: () => void;
  const loading = new Promise<void>((r) => (release = r));
  let disposed = false;
  const served = serveWhileLoading({
    address,
    services: [handlers],
    load: async () => {
      await loading;
      return { name: "model" };
    },
    dispose: () => {
      disposed = true;
    },
  });
  let status = "";
  for (let i = 0; i < 50 && status !== "NOT_SERVING"; i++) {
    status = await checkHealth(address, "", 500).catch(() => "");
    if (status !== "NOT_SERVING") await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(status, "NOT_SERVING", "health during the load");
  release();
  const s = await served;
  assert.equal(await checkHealth(address), "SERVING");
  assert.deepEqual(s.model, { name: "model" });
  assert.equal(s.metricsPort, null);
  await s.shutdown(100);
  assert.equal(disposed, true);
});

test("a failed load closes what was opened, releases the port and rethrows", async () => {
  const port = await probePort(0);
  let metricsClosed = false;
  await assert.rejects(
    serveWhileLoading({
      address: `127.0.0.1:${port}`,
      services: [handlers],
      startMetrics: async () => ({ port: 1, close: async () => void (metricsClosed = true) }),
      load: async () => {
        throw new Error("checkpoint is corrupt");
      },
    }),
    /checkpoint is corrupt/,
  );
  assert.equal(metricsClosed, true);
  assert.equal(await probePort(port), port, "the gRPC port is still taken");
});
