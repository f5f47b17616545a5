import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { create } from "@bufbuild/protobuf";
import { JudgeService, TensorSchema, DataType } from "@grpomesh/proto";
import { bindService, startServer, createClient, checkHealth, waitForServing, invalidArgument, Status, RpcCallError, type CallRecord } from "./index.ts";

// A real service over real grpc-js on loopback: "scores" each row as the sum of its int32 ids.
const calls: CallRecord[] = [];
const running = await startServer({
  address: "127.0.0.1:0",
  maxReceiveMessageBytes: 64 * 1024,
  initiallyServing: false,
  onCall: (r) => calls.push(r),
  services: [
    bindService(
      JudgeService,
      {
        score(req) {
          const t = req.tokens;
          if (!t || t.dtype !== DataType.INT32 || t.shape.length !== 2) throw invalidArgument("tokens must be int32 [N, T]");
          const [n, len] = t.shape.map(Number) as [number, number];
          const ids = new Int32Array(new Uint8Array(t.data).buffer);
          const scores = new Float32Array(n);
          for (let i = 0; i < n; i++) for (let j = 0; j < len; j++) scores[i] += ids[i * len + j]!;
          return { scores: { dtype: DataType.FLOAT32, shape: [BigInt(n)], data: new Uint8Array(scores.buffer) }, modelVersion: "sum-v1" };
        },
        info() {
          return { modelName: "sum", modelVersion: "sum-v1", vocab: ["a", "b"] };
        },
        loadModel() {
          throw new Error("boom: not a model");
        },
      },
      [],
    ),
  ],
});
const client = createClient(JudgeService, running.address, { deadlineMs: 5_000 });
after(async () => {
  client.close();
  await running.shutdown();
});

test("health starts NOT_SERVING and follows setServing", async () => {
  assert.equal(await checkHealth(running.address), "NOT_SERVING");
  assert.equal(await checkHealth(running.address, "grpomesh.v1.JudgeService"), "NOT_SERVING");
  running.setServing(true);
  await waitForServing(running.address, { timeoutMs: 2_000 });
  assert.equal(await checkHealth(running.address, "grpomesh.v1.JudgeService"), "SERVING");
});

test("unary call round-trips messages through the adapter", async () => {
  const ids = new Int32Array([1, 2, 3, 10, 20, 30]);
  const res = await client.score({ tokens: create(TensorSchema, { dtype: DataType.INT32, shape: [2n, 3n], data: new Uint8Array(ids.buffer) }) });
  assert.equal(res.modelVersion, "sum-v1");
  assert.deepEqual(res.scores?.shape, [2n]);
  assert.deepEqual(Array.from(new Float32Array(new Uint8Array(res.scores!.data).buffer)), [6, 60]);
  const info = await client.info({});
  assert.deepEqual(info.vocab, ["a", "b"]);
});

test("handler errors keep their status; unknown errors become INTERNAL; calls are recorded", async () => {
  await assert.rejects(client.score({}), (e: RpcCallError) => e.code === Status.INVALID_ARGUMENT && /int32 \[N, T\]/.test(e.message));
  const orig = console.error;
  console.error = () => {};
  try {
    await assert.rejects(client.loadModel({ path: "x" }), (e: RpcCallError) => e.code === Status.INTERNAL && /boom/.test(e.details));
  } finally {
    console.error = orig;
  }
  assert.ok(calls.some((c) => c.method === "Score" && c.code === Status.OK));
  assert.ok(calls.some((c) => c.method === "Score" && c.code === Status.INVALID_ARGUMENT));
});

test("requests over the receive limit get RESOURCE_EXHAUSTED and the server keeps serving", async () => {
  const big = new Int32Array(32 * 1024); // 128 KiB > 64 KiB limit
  await assert.rejects(
    client.score({ tokens: { dtype: DataType.INT32, shape: [1n, BigInt(big.length)], data: new Uint8Array(big.buffer) } }),
    (e: RpcCallError) => e.code === Status.RESOURCE_EXHAUSTED,
  );
  const ok = await client.info({});
  assert.equal(ok.modelName, "sum");
});

test("deadlines are enforced", async () => {
  const slow = await startServer({
    address: "127.0.0.1:0",
    services: [
      bindService(
        JudgeService,
        {
          score: () => new Promise((r) => setTimeout(() => r({}), 500)),
          info: () => ({}),
          loadModel: () => ({}),
        },
        [],
      ),
    ],
  });
  const c = createClient(JudgeService, slow.address);
  try {
    await assert.rejects(c.score({}, { deadlineMs: 50 }), (e: RpcCallError) => e.code === Status.DEADLINE_EXCEEDED);
  } finally {
    c.close();
    await slow.shutdown(100);
  }
});

test("server reflection lists the service and serves its file", async () => {
  const require = createRequire(import.meta.url);
  const protoPath = require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto");
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { keepCase: true })) as any;
  const refl = new pkg.grpc.reflection.v1.ServerReflection(running.address, grpc.credentials.createInsecure());
  const ask = (req: object) =>
    new Promise<any>((resolve, reject) => {
      const stream = refl.ServerReflectionInfo();
      stream.on("data", (d: any) => {
        resolve(d);
        stream.end();
      });
      stream.on("error", reject);
      stream.write(req);
    });
  const list = await ask({ list_services: "" });
  const names = list.list_services_response.service.map((s: any) => s.name);
  assert.ok(names.includes("grpomesh.v1.JudgeService"), `services: ${names}`);
  const file = await ask({ file_containing_symbol: "grpomesh.v1.JudgeService" });
  assert.ok(file.file_descriptor_response.file_descriptor_proto.length >= 1);
  refl.close();
});
