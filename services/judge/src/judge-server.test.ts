// The judge over real gRPC on loopback (mutual TLS and the admin token, as `npm start` runs it),
// with real onnxruntime sessions and a real /metrics endpoint.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DataType, JudgeService, TensorSchema, type ScoreResponse } from "@grpomesh/proto";
import { join } from "node:path";
import { checkHealth, createClient, createLocalCredentials, INSECURE, loadSecurity, RpcCallError, Status, type Client, type Security } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { startJudgeServer, type JudgeServer } from "./judge-server.ts";
import {
  directScores,
  failsWarmUpModel,
  generatorModel,
  label,
  meanIdModel,
  randomIds,
  SEQ_LEN,
  tempRepository,
  tinyScorer,
  VOCAB_SIZE,
} from "./test/fixtures.ts";

const repo = tempRepository();
const modelA = tinyScorer("a1", 1);
const modelB = tinyScorer("b2", 2);
repo.write("judge/1/model.onnx", modelA);
repo.write("judge/2/model.onnx", modelB);
repo.write("judge/gen/model.onnx", generatorModel());
repo.write("judge/warm/model.onnx", failsWarmUpModel());
repo.write("mean/model.onnx", meanIdModel());
const secrets = tempRepository("judge-secrets-");
const A1 = label("a1", modelA);
const B2 = label("b2", modelB);
const MAX_BATCH = 32;
const MAX_MESSAGE_BYTES = 256 * 1024;

let judge: JudgeServer;
let client: Client<typeof JudgeService>;
/** TLS with a client certificate but no admin token: may read, may not load. */
let reader: Client<typeof JudgeService>;
let clientSecurity: Security;
before(async () => {
  const creds = await createLocalCredentials(join(secrets.root, "local"));
  clientSecurity = loadSecurity({ tlsDir: creds.clientTlsDir, adminTokenFile: creds.adminTokenFile });
  judge = await startJudgeServer({
    address: "127.0.0.1:0",
    metrics_port: 0,
    metrics_host: "127.0.0.1",
    model: "judge/1/model.onnx",
    model_repository: repo.root,
    max_batch: MAX_BATCH,
    max_message_bytes: MAX_MESSAGE_BYTES,
    scheduler: "microbatch",
    sessions: 1,
    threads: 1,
    tls_dir: creds.serverTlsDir,
    admin_token_file: creds.adminTokenFile,
  });
  client = createClient(JudgeService, judge.address, { deadlineMs: 10_000, security: clientSecurity });
  reader = createClient(JudgeService, judge.address, { deadlineMs: 10_000, security: { ...clientSecurity, adminToken: null } });
});
after(async () => {
  client?.close();
  reader?.close();
  await judge?.shutdown();
  repo.remove();
  secrets.remove();
});

const health = (service = "") => checkHealth(judge.address, service, 5_000, clientSecurity);

const scoresOf = (res: ScoreResponse) => [...decodeTensor(res.scores, { name: "scores", dtype: DataType.FLOAT32 }).values];
const tokens = (ids: Int32Array, rows: number, seqLen = SEQ_LEN) => encodeTensor(ids, [rows, seqLen]);

async function metricsText(server: JudgeServer): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of one sample, e.g. sample(text, 'judge_request_success_total{method="Score"}'). */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no sample ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

function rejectsWith(code: Status, re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof RpcCallError, `expected RpcCallError, got ${String(e)}`);
    assert.equal(Status[e.code], Status[code], e.details);
    assert.match(e.details, re);
    return true;
  };
}

test("scores over gRPC equal a direct onnxruntime run, for int32 and int64 requests", async () => {
  assert.equal(await health("grpomesh.v1.JudgeService"), "SERVING");
  const ids = randomIds(7, SEQ_LEN, 42);
  const expected = [...(await directScores(modelA, ids, 7, SEQ_LEN))];
  const r32 = await client.score({ tokens: tokens(ids, 7) });
  assert.deepEqual(scoresOf(r32), expected);
  assert.deepEqual(r32.scores!.shape, [7n]);
  assert.equal(r32.modelVersion, A1);
  assert.equal(r32.modelName, "tiny-judge");
  const r64 = await client.score({ tokens: encodeTensor(BigInt64Array.from(ids, BigInt), [7, SEQ_LEN]) });
  assert.deepEqual(scoresOf(r64), expected);
  assert.ok(new Set(expected).size > 1, "the test model must tell sequences apart");
});

test("Info describes the model and the serving configuration", async () => {
  const info = await client.info({});
  assert.equal(info.modelName, "tiny-judge");
  assert.equal(info.modelVersion, A1);
  assert.equal(info.inputName, "tokens");
  assert.equal(info.inputDtype, DataType.INT64);
  assert.equal(info.outputName, "score");
  assert.equal(info.seqLen, SEQ_LEN);
  assert.equal(info.vocab.length, VOCAB_SIZE);
  assert.equal(info.vocab[1], "[MASK]");
  assert.equal(info.executionProvider, "cpu");
  assert.equal(info.maxBatchSize, MAX_BATCH);
  assert.equal(info.modelPath, judge.slot.current!.path);
  assert.match(info.modelPath, /judge\/1\/model\.onnx$/);
});

test("every bad input gets its status code and the next good request still succeeds", async () => {
  const good = tokens(randomIds(2, SEQ_LEN, 1), 2);
  const I = Status.INVALID_ARGUMENT;
  const cases: Array<[string, Parameters<typeof client.score>[0], Status, RegExp]> = [
    ["missing tokens", {}, I, /tokens is missing/],
    ["float dtype", { tokens: encodeTensor(new Float32Array(SEQ_LEN), [1, SEQ_LEN]) }, I, /dtype FLOAT32; expected INT32 or INT64/],
    [
      "unspecified dtype",
      { tokens: create(TensorSchema, { shape: [1n, BigInt(SEQ_LEN)], data: new Uint8Array(4 * SEQ_LEN) }) },
      I,
      /dtype DATA_TYPE_UNSPECIFIED|dtype UNSPECIFIED/,
    ],
    ["rank 1", { tokens: encodeTensor(new Int32Array(SEQ_LEN), [SEQ_LEN]) }, I, /rank 1\); expected rank 2/],
    ["rank 3", { tokens: encodeTensor(new Int32Array(SEQ_LEN), [1, 1, SEQ_LEN]) }, I, /rank 3\); expected rank 2/],
    [
      "wrong seq_len",
      { tokens: tokens(new Int32Array(2 * 9), 2, 9) },
      I,
      new RegExp(`shape \\[2, 9\\]; expected \\[N, ${SEQ_LEN}\\]: judge model a1\\+sha256:`),
    ],
    ["empty batch", { tokens: tokens(new Int32Array(0), 0) }, I, /an empty batch/],
    [
      "id too large",
      {
        tokens: tokens(
          Int32Array.from({ length: 2 * SEQ_LEN }, (_, i) => (i === SEQ_LEN + 5 ? VOCAB_SIZE : 3)),
          2,
        ),
      },
      I,
      new RegExp(`row 1, column 5 is ${VOCAB_SIZE}; expected a token id in \\[0, ${VOCAB_SIZE}\\)`),
    ],
    [
      "negative id",
      {
        tokens: tokens(
          Int32Array.from({ length: SEQ_LEN }, (_, i) => (i === 3 ? -2 : 0)),
          1,
        ),
      },
      I,
      /row 0, column 3 is -2/,
    ],
    [
      "bytes short of the shape",
      { tokens: create(TensorSchema, { dtype: DataType.INT32, shape: [2n, BigInt(SEQ_LEN)], data: new Uint8Array(10) }) },
      I,
      /10 bytes for shape/,
    ],
    [
      "over --max_batch",
      { tokens: tokens(new Int32Array((MAX_BATCH + 1) * SEQ_LEN), MAX_BATCH + 1) },
      Status.RESOURCE_EXHAUSTED,
      /holds 33 sequences; this judge accepts at most 32/,
    ],
    [
      "over the message limit",
      { tokens: encodeTensor(new Int32Array(MAX_MESSAGE_BYTES / 4 + 16), [1, MAX_MESSAGE_BYTES / 4 + 16]) },
      Status.RESOURCE_EXHAUSTED,
      /./,
    ],
  ];
  for (const [what, request, code, re] of cases) {
    await assert.rejects(client.score(request), rejectsWith(code, re), what);
    const ok = await client.score({ tokens: good });
    assert.equal(scoresOf(ok).length, 2, `good request after "${what}"`);
  }
  assert.equal(await health(), "SERVING");
});

test("concurrent requests are merged by the micro-batcher and each gets its own scores", async () => {
  const before = await metricsText(judge);
  const runsBefore = sample(before, `judge_execution_count_total{model="tiny-judge",version="${A1}"}`);
  const batches = Array.from({ length: 12 }, (_, i) => randomIds(3, SEQ_LEN, 100 + i));
  const responses = await Promise.all(batches.map((ids) => client.score({ tokens: tokens(ids, 3) })));
  const all = new Int32Array(batches.flatMap((b) => [...b]));
  const expected = [...(await directScores(modelA, all, 36, SEQ_LEN))];
  assert.deepEqual(
    responses.flatMap(scoresOf).map((x) => x.toFixed(5)),
    expected.map((x) => x.toFixed(5)),
  );
  const runs = sample(await metricsText(judge), `judge_execution_count_total{model="tiny-judge",version="${A1}"}`) - runsBefore;
  assert.ok(runs < 12, `12 concurrent requests took ${runs} onnxruntime runs; expected fewer (merged)`);
});

test("LoadModel swaps atomically under load; bad models are refused while the old keeps serving", async () => {
  const ids = randomIds(4, SEQ_LEN, 5);
  const [scoresA, scoresB] = [await directScores(modelA, ids, 4, SEQ_LEN), await directScores(modelB, ids, 4, SEQ_LEN)];
  const byVersion: Record<string, number[]> = { [A1]: [...scoresA], [B2]: [...scoresB] };
  const old = judge.slot.current!;

  const load = client.loadModel({ path: "judge/2/model.onnx" });
  const during = await Promise.all(Array.from({ length: 16 }, () => client.score({ tokens: tokens(ids, 4) })));
  const res = await load;
  assert.deepEqual([res.modelVersion, res.previousVersion, res.modelName], [B2, A1, "tiny-judge"]);
  assert.ok(res.loadMs > 0);
  for (const r of during) assert.deepEqual(scoresOf(r), byVersion[r.modelVersion], `response of version ${r.modelVersion} must match that model`);
  const after = await client.score({ tokens: tokens(ids, 4) });
  assert.equal(after.modelVersion, B2);
  assert.deepEqual(scoresOf(after), byVersion[B2]);
  assert.equal(await health("grpomesh.v1.JudgeService"), "SERVING");
  await old.released;
  assert.equal(old.references, 0, "the swapped-out session is freed once its requests finish");

  const refused: Array<[string, Status, RegExp]> = [
    ["judge/gen/model.onnx", Status.FAILED_PRECONDITION, /refused: output "logits" has shape \[batch, 16, 20\]; expected \[batch\] or \[batch, 1\]/],
    ["judge/warm/model.onnx", Status.FAILED_PRECONDITION, /refused: warm-up inference failed/],
    ["judge/9/model.onnx", Status.NOT_FOUND, /does not exist/],
    ["../outside.onnx", Status.PERMISSION_DENIED, /path "\.\.\/outside\.onnx" is outside .*only from its model repository/],
    ["/etc/passwd", Status.PERMISSION_DENIED, /path "\/etc\/passwd" is outside/],
    ["", Status.INVALID_ARGUMENT, /path is empty/],
    ["x".repeat(4097), Status.INVALID_ARGUMENT, /path is 4097 bytes .*paths are at most 4096 bytes/],
  ];
  for (const [path, code, re] of refused) {
    await assert.rejects(client.loadModel({ path }), rejectsWith(code, re), path.slice(0, 40));
    const still = await client.score({ tokens: tokens(ids, 4) });
    assert.equal(still.modelVersion, B2, `old model keeps serving after refusing ${path.slice(0, 40) || "an empty path"}`);
  }
  // Long paths are answered at once with a short message, and the connection stays usable: one
  // within this server's 256 KiB message cap is INVALID_ARGUMENT, a 1 MiB one RESOURCE_EXHAUSTED.
  const t0 = performance.now();
  await assert.rejects(
    client.loadModel({ path: "../".repeat(70_000) }),
    (e: unknown) => e instanceof RpcCallError && e.code === Status.INVALID_ARGUMENT && /path is 210000 bytes/.test(e.details) && e.details.length < 2_100,
  );
  await assert.rejects(client.loadModel({ path: "../".repeat(350_000) }), rejectsWith(Status.RESOURCE_EXHAUSTED, /larger than max/));
  assert.ok(performance.now() - t0 < 5_000, `long paths took ${performance.now() - t0} ms`);
  await assert.rejects(
    client.loadModel({ path: "judge/1/model.onnx", version: "v".repeat(200) }),
    rejectsWith(Status.INVALID_ARGUMENT, /a version label is at most 128/),
  );
  assert.equal((await client.score({ tokens: tokens(ids, 4) })).modelVersion, B2, "the same connection still serves");

  // LoadModel needs the admin token; reads do not. Refused before anything is loaded.
  await assert.rejects(
    reader.loadModel({ path: "judge/1/model.onnx" }),
    rejectsWith(Status.UNAUTHENTICATED, /LoadModel changes state and needs the admin token/),
  );
  const wrong = createClient(JudgeService, judge.address, {
    deadlineMs: 10_000,
    security: { ...clientSecurity, adminToken: "not-the-admin-token-0123456789" },
  });
  await assert.rejects(wrong.loadModel({ path: "judge/1/model.onnx" }), rejectsWith(Status.PERMISSION_DENIED, /not the one this service was given/));
  wrong.close();
  assert.equal((await reader.score({ tokens: tokens(ids, 4) })).modelVersion, B2, "reads need no token; the refused loads changed nothing");
  assert.equal((await reader.info({})).modelVersion, B2);
  // Without a client certificate the TLS handshake itself fails.
  const plain = createClient(JudgeService, judge.address, { deadlineMs: 3_000, security: INSECURE });
  await assert.rejects(plain.info({}), (e: unknown) => e instanceof RpcCallError && e.code === Status.UNAVAILABLE);
  plain.close();
  assert.equal(await health(), "SERVING");

  // A model with another dtype and a dynamic seq_len: the request's int64 ids become int32, any T goes.
  const mean = await client.loadModel({ path: "mean/model.onnx", version: "mean-explicit" });
  assert.equal(mean.modelVersion, label("mean-explicit", meanIdModel()));
  const r = await client.score({ tokens: encodeTensor(BigInt64Array.of(1n, 2n, 3n, 4n, 4n, 4n), [2, 3]) });
  assert.deepEqual(scoresOf(r), [2, 4]);
  assert.equal(r.modelName, "mean", "a model without grpomesh.name is named after its folder");
});

test("/metrics counts requests by method and code and names the model served", async () => {
  const text = await metricsText(judge);
  assert.ok(sample(text, 'judge_request_success_total{method="Score"}') >= 10);
  assert.ok(sample(text, 'judge_request_failure_total{method="Score",code="INVALID_ARGUMENT"}') >= 9);
  assert.ok(sample(text, 'judge_request_failure_total{method="Score",code="RESOURCE_EXHAUSTED"}') >= 1);
  assert.ok(sample(text, 'judge_request_failure_total{method="LoadModel",code="FAILED_PRECONDITION"}') >= 2);
  assert.ok(sample(text, 'judge_request_success_total{method="LoadModel"}') >= 2);
  assert.ok(sample(text, 'judge_request_duration_seconds_count{method="Score"}') >= 10);
  assert.ok(sample(text, `judge_compute_duration_seconds_count{model="tiny-judge",version="${A1}"}`) >= 1);
  assert.ok(sample(text, `judge_queue_duration_seconds_count{model="tiny-judge",version="${B2}"}`) >= 1);
  assert.ok(sample(text, `judge_inference_count_total{model="tiny-judge",version="${A1}"}`) >= 36);
  assert.ok(sample(text, "judge_request_batch_size_count") >= 10);
  assert.ok(sample(text, "judge_execution_batch_size_sum") >= 36);
  // gen, warm and the missing file; paths refused before loading (outside, empty) are not loads.
  assert.equal(sample(text, 'judge_model_load_total{result="failure"}'), 3);
  assert.ok(sample(text, 'judge_model_load_total{result="success"}') >= 3);
  assert.equal(sample(text, "judge_inflight_requests"), 0);
  const info = text.split("\n").filter((l) => l.startsWith("judge_model_info{"));
  assert.equal(info.length, 1, `one judge_model_info series: ${info.join(" | ")}`);
  assert.match(info[0]!, /model="mean",version="mean-explicit\+sha256:[0-9a-f]{12}",.*execution_provider="cpu"\} 1$/);
});
