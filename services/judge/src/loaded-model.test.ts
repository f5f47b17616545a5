import { test, after } from "node:test";
import assert from "node:assert/strict";
import { RpcError, Status } from "@grpomesh/rpc";
import { checkVersionField, loadJudgeModel, nameFromPath } from "./loaded-model.ts";
import { ModelSlot } from "./model-slot.ts";
import { resolveExecutionProvider } from "@grpomesh/onnx-export/providers";
import { quantizeModel } from "@grpomesh/onnx-export/quantize";
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
  unknownOpModel,
} from "./test/fixtures.ts";

const repo = tempRepository();
after(() => repo.remove());
const cpu = { provider: resolveExecutionProvider("cpu"), threads: 1 };

function refusedWith(code: Status, re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${String(e)}`);
    assert.equal(Status[e.code], Status[code], e.message);
    assert.match(e.message, re);
    return true;
  };
}

test("a model loads with its metadata version, digest and name, and scores like plain onnxruntime", async () => {
  const bytes = tinyScorer("a1", 1);
  const path = repo.write("a.onnx", bytes);
  const model = await loadJudgeModel(path, cpu);
  try {
    assert.match(model.version, /^a1\+sha256:[0-9a-f]{12}$/);
    assert.equal(model.version, `a1+sha256:${model.digest.slice("sha256:".length, "sha256:".length + 12)}`);
    assert.equal(model.name, "tiny-judge");
    assert.match(model.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(model.info.seqLen, SEQ_LEN);
    assert.ok(model.loadMs > 0);
    const ids = randomIds(5, SEQ_LEN, 7);
    const scores = await model.run(BigInt64Array.from(ids, BigInt), 5, SEQ_LEN);
    assert.deepEqual([...scores], [...(await directScores(bytes, ids, 5, SEQ_LEN))]);
  } finally {
    model.release();
  }
});

test("a request larger than --run_tokens runs in pieces of whole rows and scores as one run does", async () => {
  const bytes = tinyScorer("pieces", 3);
  const whole = await loadJudgeModel(repo.write("whole.onnx", bytes), cpu);
  // SEQ_LEN·2 + 1 tokens: two rows per run, the last run holding one row
  const pieces = await loadJudgeModel(repo.write("pieces.onnx", bytes), { ...cpu, runTokens: SEQ_LEN * 2 + 1 });
  try {
    const ids = randomIds(7, SEQ_LEN, 11);
    // run() hands its ids to the session's worker (transferred): a fresh array per call
    const a = await whole.run(BigInt64Array.from(ids, BigInt), 7, SEQ_LEN);
    const b = await pieces.run(BigInt64Array.from(ids, BigInt), 7, SEQ_LEN);
    assert.equal(b.length, 7);
    // the same rows in another batch size: onnxruntime may block its GEMMs differently (float32 rounding)
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= 1e-5 * Math.max(1, Math.abs(x)), `row ${i}: ${x} vs ${b[i]}`));
  } finally {
    whole.release();
    pieces.release();
  }
});

test("an explicit version wins; without metadata the version is the version folder, else the digest prefix, and the name the file name", async () => {
  const metaBytes = tinyScorer("meta-v", 1);
  const explicit = await loadJudgeModel(repo.write("e.onnx", metaBytes), { ...cpu, version: "ops-label" });
  assert.equal(explicit.version, label("ops-label", metaBytes));
  explicit.release();
  const { GraphBuilder, TensorProto_DataType: T } = await import("@grpomesh/autodiff");
  const g = new GraphBuilder();
  const x = g.input("tokens", T.INT64, ["batch", 2]);
  g.output(g.node("ReduceMean", [g.node("Cast", [x], { attrs: { to: T.FLOAT } })], { attrs: { axes: [1], keepdims: 0 } }), "score", T.FLOAT, ["batch"]);
  const bareBytes = g.toModel({ metadata: { "grpomesh.model_type": "sequence_scorer", "grpomesh.vocab": '["a","b"]' } });
  const bare = await loadJudgeModel(repo.write("bare-judge.onnx", bareBytes), cpu);
  assert.equal(bare.name, "bare-judge");
  assert.equal(bare.version, bare.digest.slice(0, "sha256:".length + 12));
  bare.release();
  // In a Triton-style <name>/<version>/model.onnx layout the folders name and number it.
  const numbered = await loadJudgeModel(repo.write("bare/3/model.onnx", bareBytes), cpu);
  assert.deepEqual([numbered.name, numbered.version], ["bare", label("3", bareBytes)]);
  numbered.release();
});

test("two files with the same metadata get different labels; a label that names a digest must be the file's", async () => {
  const one = tinyScorer("same-v", 1);
  const two = tinyScorer("same-v", 2);
  const a = await loadJudgeModel(repo.write("same-1.onnx", one), cpu);
  const b = await loadJudgeModel(repo.write("same-2.onnx", two), cpu);
  try {
    assert.notEqual(a.version, b.version);
    assert.deepEqual([a.version, b.version], [label("same-v", one), label("same-v", two)]);
    // A rollback passes the label Info reported: kept as it is while the file is unchanged…
    const again = await loadJudgeModel(a.path, { ...cpu, version: a.version });
    assert.equal(again.version, a.version);
    again.release();
    // …and refused once the file changed (the label would lie about what is served).
    repo.write("same-1.onnx", two);
    await assert.rejects(
      loadJudgeModel(a.path, { ...cpu, version: a.version }),
      refusedWith(
        Status.FAILED_PRECONDITION,
        /version "same-v\+sha256:[0-9a-f]{12}" names file digest sha256:[0-9a-f]{12} but .*same-1\.onnx has sha256:[0-9a-f]{12}; the file changed/,
      ),
    );
  } finally {
    a.release();
    b.release();
  }
  assert.throws(
    () => checkVersionField("v".repeat(129)),
    refusedWith(Status.INVALID_ARGUMENT, /version is 129 characters \("v{40}"… \(129 characters\)\); a version label is at most 128/),
  );
  assert.throws(() => checkVersionField("judge v2"), refusedWith(Status.INVALID_ARGUMENT, /contains whitespace or control characters/));
  checkVersionField("judge-v2");
});

test("contract breakers, warm-up failures and missing files are refused with the reason", async () => {
  await assert.rejects(
    loadJudgeModel(repo.write("gen.onnx", generatorModel()), cpu),
    refusedWith(
      Status.FAILED_PRECONDITION,
      /gen\.onnx refused: output "logits" has shape \[batch, 16, 20\]; expected \[batch\] or \[batch, 1\] \(see docs\/judge-contract\.md\)/,
    ),
  );
  await assert.rejects(
    loadJudgeModel(repo.write("text.onnx", new TextEncoder().encode("not a model at all")), cpu),
    refusedWith(Status.FAILED_PRECONDITION, /text\.onnx refused: .*expected/),
  );
  await assert.rejects(
    loadJudgeModel(repo.write("warm.onnx", failsWarmUpModel()), cpu),
    refusedWith(Status.FAILED_PRECONDITION, /warm\.onnx refused: warm-up inference failed: .*Reshape/),
  );
  await assert.rejects(
    loadJudgeModel(repo.write("two.onnx", failsWarmUpModel(8)), cpu),
    refusedWith(
      Status.FAILED_PRECONDITION,
      /two\.onnx refused: warm-up inference failed: judge model broken-1\+sha256:[0-9a-f]{12} returned float32 \[2\] for 1 sequences; expected float32 \[1\] or \[1, 1\]/,
    ),
  );
  await assert.rejects(
    loadJudgeModel(repo.write("op.onnx", unknownOpModel()), { ...cpu, sessions: 2 }),
    refusedWith(Status.FAILED_PRECONDITION, /op\.onnx refused: onnxruntime cannot create a session \(.*NoSuchScorerOp/),
  );
  await assert.rejects(loadJudgeModel(`${repo.root}/nope.onnx`, cpu), refusedWith(Status.NOT_FOUND, /nope\.onnx does not exist/));
});

test("run() refuses ids in the wrong dtype or count; an int32 model with a dynamic seq_len scores by hand", async () => {
  const path = repo.write("mean.onnx", meanIdModel());
  const model = await loadJudgeModel(path, cpu);
  try {
    await assert.rejects(model.run(BigInt64Array.of(1n), 1, 1), /run\(\) got int64 ids; model mean-1\+sha256:[0-9a-f]{12} takes int32/);
    const ids = Int32Array.of(1, 2, 3, 5, 5, 5);
    const scores = await model.run(ids, 2, 3);
    assert.deepEqual([...scores], [2, 5]);
    // the first run transferred the ids' buffer to the session's worker: reusing them is refused, not run
    await assert.rejects(model.run(ids, 2, 3), /run\(\) got 0 ids for 2 × 3 \(a buffer already transferred reads as empty\)/);
    await assert.rejects(model.run(Int32Array.of(1, 2), 2, 3), /run\(\) got 2 ids for 2 × 3/);
  } finally {
    model.release();
  }
});

test("a swap leaves in-flight holders on the old session; it is freed when the last lets go", async () => {
  const slot = new ModelSlot();
  assert.throws(() => slot.acquire(), refusedWith(Status.UNAVAILABLE, /no judge model is loaded yet/));
  const oldBytes = tinyScorer("old", 1);
  const newBytes = tinyScorer("new", 2);
  assert.equal(slot.swap(await loadJudgeModel(repo.write("old.onnx", oldBytes), cpu)), null);
  const inFlight = slot.acquire();
  assert.equal(slot.swap(await loadJudgeModel(repo.write("new.onnx", newBytes), cpu)), label("old", oldBytes));
  assert.equal(slot.current!.version, label("new", newBytes));
  assert.equal(inFlight.version, label("old", oldBytes));
  assert.equal(inFlight.references, 1);
  assert.equal(inFlight.released, null, "old session must stay open while a request holds it");
  const ids = randomIds(3, SEQ_LEN, 11);
  const oldScores = await inFlight.run(BigInt64Array.from(ids, BigInt), 3, SEQ_LEN);
  assert.deepEqual([...oldScores], [...(await directScores(oldBytes, ids, 3, SEQ_LEN))]);
  inFlight.release();
  assert.ok(inFlight.released, "the last release frees the session");
  await inFlight.released;
  assert.throws(() => inFlight.acquire(), /already released/);
  await slot.close();
  assert.throws(() => slot.acquire(), refusedWith(Status.UNAVAILABLE, /shutting down/));
});

test("a model without grpomesh.name is named after its file, or its folder in a <name>/<version>/model.onnx layout", () => {
  assert.equal(nameFromPath("/models/judge-small.onnx"), "judge-small");
  assert.equal(nameFromPath("/models/judge/3/model.onnx"), "judge");
  assert.equal(nameFromPath("/models/judge/model.onnx"), "judge");
  assert.equal(nameFromPath("/model.onnx"), "model");
});

test("an int8 judge (npm run judge -- quantize) loads like any judge, its version says so, and it scores close to its fp32 original", async () => {
  const fp32 = tinyScorer("q1", 5);
  const { bytes } = quantizeModel(fp32);
  const a = await loadJudgeModel(repo.write("q-fp32.onnx", fp32), cpu);
  const b = await loadJudgeModel(repo.write("q-int8.onnx", bytes), cpu);
  try {
    assert.match(b.version, /^q1-int8\+sha256:[0-9a-f]{12}$/);
    const ids = randomIds(16, SEQ_LEN, 3);
    const x = await a.run(BigInt64Array.from(ids, BigInt), 16, SEQ_LEN);
    const y = await b.run(BigInt64Array.from(ids, BigInt), 16, SEQ_LEN);
    const range = Math.max(...x) - Math.min(...x);
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(x[i]! - y[i]!) < 0.1 * range, `sequence ${i}: ${y[i]} vs fp32 ${x[i]} (range ${range})`);
    assert.notDeepEqual([...x], [...y], "int8 is not the fp32 model");
  } finally {
    a.release();
    b.release();
  }
});
