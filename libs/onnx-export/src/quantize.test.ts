// The int8 judge: per-column weights by hand, the rewritten graph (int8 initializers, the contract
// kept, the version marked), its scores against the fp32 judge's on text windows, a broken scale
// caught by the same check, a Gemm judge, and GELU subgraphs found by what they compute.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProto_DataType } from "onnx-buf";
import * as ort from "onnxruntime-node";
import { Rng } from "@grpomesh/rng";
import { GraphBuilder, float, floatValues, tensor } from "@grpomesh/autodiff/graph";
import { spearman } from "./agreement.ts";
import { Tape } from "@grpomesh/autodiff";
import { META_MODEL_TYPE, META_VERSION, META_VOCAB, SEQUENCE_SCORER, inspectJudgeModel, readModelMetadata } from "./contract.ts";
import { META_QUANTIZED, fuseGeluModel, geluTanh, quantizeColumns, quantizeModel, type QuantizeReport } from "./quantize.ts";

const JUDGE = new URL("../../../models/judge/model.onnx", import.meta.url);
const CORPUS = new URL("../../../data/corpus/kjv.txt", import.meta.url);

test("per-column int8 by hand: scale = max|w|/127 per column, values rounded and within ±127", () => {
  // W [2, 3]: columns max 1, 4, 0
  const { q, scale } = quantizeColumns(Float32Array.of(1, -4, 0, 0.5, 2, 0), 2, 3);
  assert.deepEqual([...scale], [1 / 127, 4 / 127, 1].map(Math.fround));
  assert.deepEqual([...q], [127, -127, 0, 64, 64, 0]);
  assert.throws(() => quantizeColumns(Float32Array.of(1, Number.NaN), 2, 1), /column 0 holds a value that is not finite/);
  assert.throws(() => quantizeColumns(Float32Array.of(1), 2, 1), /weights hold 1 values; \[2, 1\] needs 2/);
});

/** `count` windows of `T` characters of the corpus as the judge's ids; every other one with a quarter of its characters replaced at random, so scores spread. */
function windows(vocab: string[], T: number, count: number): BigInt64Array {
  const text = readFileSync(CORPUS, "utf8");
  const id = new Map(vocab.map((c, i) => [c, i]));
  const rng = new Rng(7);
  const ids = new BigInt64Array(count * T);
  for (let s = 0; s < count; s++) {
    const start = rng.nextInt(text.length - T);
    for (let t = 0; t < T; t++) {
      const corrupt = s % 2 === 1 && rng.next() < 0.25;
      ids[s * T + t] = BigInt(corrupt ? 2 + rng.nextInt(vocab.length - 2) : (id.get(text[start + t]!) ?? 2));
    }
  }
  return ids;
}

/** What is wrong with `int8` as the scores of the quantized judge, against the fp32 judge's `fp32`: nothing when in tolerance. */
function agreementProblems(fp32: Float32Array, int8: Float32Array): string[] {
  let worst = 0;
  for (let i = 0; i < fp32.length; i++) worst = Math.max(worst, Math.abs(fp32[i]! - int8[i]!));
  const range = Math.max(...fp32) - Math.min(...fp32);
  const rho = spearman(fp32, int8);
  const problems: string[] = [];
  if (!(worst < 0.05 * range)) problems.push(`largest score difference ${worst} (the fp32 scores span ${range})`);
  if (!(rho >= 0.99)) problems.push(`Spearman ${rho}`);
  return problems;
}

async function score(model: Uint8Array, ids: BigInt64Array, shape: [number, number]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  try {
    const info = inspectJudgeModel(model, s);
    const out = await s.run({ [info.inputName]: new ort.Tensor("int64", ids, shape) });
    return out[info.outputName]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** The bundled judge, its int8 version and their scores on text windows (shared by the tests below). */
const bundled = (() => {
  let made: Promise<{ fp32: Uint8Array; int8: Uint8Array; report: QuantizeReport; ids: BigInt64Array; shape: [number, number]; fp32Scores: Float32Array }>;
  return () =>
    (made ??= (async () => {
      const fp32 = readFileSync(JUDGE);
      const { bytes: int8, report } = quantizeModel(fp32);
      const info = inspectJudgeModel(fp32);
      const shape: [number, number] = [96, info.seqLen!];
      const ids = windows(info.vocab, shape[1], shape[0]);
      return { fp32, int8, report, ids, shape, fp32Scores: await score(fp32, ids, shape) };
    })());
})();

test("the bundled judge in int8: int8 weights, the contract and metadata kept, scores ranked as the fp32 judge's", async () => {
  const { fp32, int8: bytes, report, ids, shape, fp32Scores } = await bundled();
  const info = inspectJudgeModel(bytes);
  const fpInfo = inspectJudgeModel(fp32);
  assert.equal(info.inputName, fpInfo.inputName);
  assert.equal(info.outputName, fpInfo.outputName);
  assert.deepEqual(info.outputShape, fpInfo.outputShape);
  assert.deepEqual(info.vocab, fpInfo.vocab);
  assert.equal(info.version, `${fpInfo.version}-int8`);
  assert.match(readModelMetadata(bytes)[META_QUANTIZED]!, /^int8: 17 weight matrices, per-column symmetric/);
  assert.equal(report.quantized.length, 17, "4 blocks × (qkv, out, fc, proj) + the head");
  assert.ok(report.bytesAfter < report.bytesBefore / 3, `${report.bytesAfter} vs ${report.bytesBefore} bytes`);
  const model = fromBinary(ModelProtoSchema, bytes);
  assert.equal(model.graph!.initializer.filter((t) => t.dataType === TensorProto_DataType.INT8).length, 17);
  assert.ok(!model.graph!.initializer.some((t) => report.quantized.includes(t.name)), "the fp32 weights are gone");
  assert.ok(!model.graph!.node.some((n) => n.opType === "MatMul" && report.quantized.includes(n.input[1]!)), "no fp32 MatMul left on a quantized weight");
  assert.equal(report.gelus, 4, "one GELU per block");
  const fast = model.graph!.node.filter((n) => n.opType === "FastGelu");
  assert.deepEqual(
    fast.map((n) => [n.domain, n.input[1]]),
    [0, 1, 2, 3].map((i) => ["com.microsoft", `blocks.${i}.mlp.fc.bias`]),
    "FastGelu takes the fc layer's bias",
  );
  assert.ok(!model.graph!.node.some((n) => n.opType === "Tanh"), "no GELU node left");
  assert.deepEqual(agreementProblems(fp32Scores, await score(bytes, ids, shape)), []);
});

test("GELU fusion by what a subgraph computes: the Tape's sigmoid form becomes FastGelu with equal values; a look-alike with another constant stays", async () => {
  const n = 81;
  const points = Float32Array.from({ length: n }, (_, i) => -6 + (12 * i) / (n - 1));
  const t = new Tape();
  t.output(t.geluTanh(t.input("x", "float32", [n])), "y");
  const tapeGelu = t.toModel();
  const { bytes, gelus } = fuseGeluModel(tapeGelu);
  assert.equal(gelus, 1);
  assert.deepEqual(
    fromBinary(ModelProtoSchema, bytes).graph!.node.map((node) => node.opType),
    ["FastGelu"],
  );
  const run = async (m: Uint8Array) => {
    const s = await ort.InferenceSession.create(m);
    try {
      return (await s.run({ x: new ort.Tensor("float32", points, [n]) })).y!.data as Float32Array;
    } finally {
      await s.release();
    }
  };
  const [before, after] = [await run(tapeGelu), await run(bytes)];
  points.forEach((x, i) => {
    assert.ok(Math.abs(before[i]! - geluTanh(x)) < 1e-5 * (1 + Math.abs(x)), `the Tape's gelu at ${x}`);
    assert.ok(Math.abs(after[i]! - before[i]!) < 1e-5 * (1 + Math.abs(x)), `FastGelu at ${x}: ${after[i]} vs ${before[i]}`);
  });
  // 0.5·x·(1 + tanh(0.8·x)): GELU's shape, not its formula
  const g = new GraphBuilder();
  const x = g.input("x", TensorProto_DataType.FLOAT, [n]);
  const half = g.constant("half", [], Float32Array.of(0.5));
  const u = g.node("Tanh", [g.node("Mul", [x, g.constant("c", [], Float32Array.of(0.8))])]);
  g.output(g.node("Mul", [g.node("Mul", [x, half]), g.node("Add", [u, g.constant("one", [], Float32Array.of(1))])]), "y", TensorProto_DataType.FLOAT, [n]);
  assert.equal(fuseGeluModel(g.toModel()).gelus, 0);
});

test("a broken scale is caught: one layer's weight scales ×3 puts the int8 judge's scores out of tolerance", async () => {
  const { int8, ids, shape, fp32Scores } = await bundled();
  const model = fromBinary(ModelProtoSchema, int8);
  const inits = model.graph!.initializer;
  const at = inits.findIndex((t) => t.name === "blocks.1.mlp.fc.weight.int8.scale");
  assert.ok(at >= 0, "the quantized judge has the scale of blocks.1.mlp.fc");
  inits[at] = tensor(
    inits[at]!.name,
    inits[at]!.dims.map(Number),
    floatValues(inits[at]!).map((s) => 3 * s),
  );
  const problems = agreementProblems(fp32Scores, await score(toBinary(ModelProtoSchema, model), ids, shape));
  assert.match(problems.join("; "), /largest score difference/);
});

test("a Gemm judge (transB, alpha, bias C), its weight shared by two layers: quantized once, scores as the fp32 judge's", async () => {
  const rng = new Rng(3);
  const [V, T, D, H] = [12, 16, 32, 48];
  const randn = (n: number, s: number) => Float32Array.from({ length: n }, () => s * (rng.next() * 2 - 1));
  const g = new GraphBuilder();
  const ids = g.input("input_ids", TensorProto_DataType.INT64, ["batch", T]);
  const emb = g.node("Gather", [g.initializer("embed", [V, D], randn(V * D, 1)), ids]);
  const pooled = g.node("ReduceMean", [emb], { attrs: { axes: [1], keepdims: 0 } });
  const w1 = g.initializer("w1", [H, D], randn(H * D, 0.3));
  const hidden = g.node("Relu", [g.node("Gemm", [pooled, w1, g.initializer("b1", [H], randn(H, 0.1))], { attrs: { transB: 1, alpha: float(0.5) } })]);
  const hidden2 = g.node("Gemm", [pooled, w1], { attrs: { transB: 1 } }); // the same weight again
  const both = g.node("Add", [hidden, g.node("Relu", [hidden2])]);
  const out = g.node("Gemm", [both, g.initializer("w2", [H, 1], randn(H, 0.3)), g.initializer("b2", [1], randn(1, 0.1))]);
  g.output(out, "score", TensorProto_DataType.FLOAT, ["batch", 1]);
  const vocab = ["[PAD]", "[MASK]", ..."abcdefghij"];
  const fp32 = g.toModel({ metadata: { [META_MODEL_TYPE]: SEQUENCE_SCORER, [META_VOCAB]: JSON.stringify(vocab), [META_VERSION]: "gemm-v1" } });

  const { bytes, report } = quantizeModel(fp32);
  assert.deepEqual(report.quantized.sort(), ["w1", "w2"]);
  assert.equal(inspectJudgeModel(bytes).version, "gemm-v1-int8");
  const model = fromBinary(ModelProtoSchema, bytes);
  assert.deepEqual(
    model.graph!.node.filter((n) => n.opType === "Gemm"),
    [],
    "every Gemm rewritten",
  );
  assert.equal(model.graph!.node.filter((n) => n.opType === "MatMulInteger").length, 3);
  assert.deepEqual(
    model.graph!.initializer.filter((t) => t.dataType === TensorProto_DataType.INT8).map((t) => t.name),
    ["w1.int8", "w2.int8"],
  );
  const rows = 64;
  const x = BigInt64Array.from({ length: rows * T }, () => BigInt(2 + rng.nextInt(V - 2)));
  assert.deepEqual(agreementProblems(await score(fp32, x, [rows, T]), await score(bytes, x, [rows, T])), []);
});

test("keep leaves named weights fp32; a model already quantized, or one with nothing to quantize, is refused", () => {
  const fp32 = readFileSync(JUDGE);
  const kept = quantizeModel(fp32, { keep: ["score.weight"] });
  assert.deepEqual(kept.report.kept, ["score.weight"]);
  assert.equal(kept.report.quantized.length, 16);
  assert.match(readModelMetadata(kept.bytes)[META_QUANTIZED]!, /fp32: score\.weight; 4 gelu_tanh as FastGelu$/);
  assert.throws(() => quantizeModel(fp32, { keep: ["nope"] }), /keep names "nope", which is not an initializer/);
  assert.throws(() => quantizeModel(kept.bytes), /already quantized/);
  const empty = fromBinary(ModelProtoSchema, fp32);
  empty.graph!.node = empty.graph!.node.filter((n) => n.opType !== "MatMul");
  assert.throws(
    () => quantizeModel(toBinary(ModelProtoSchema, empty)),
    /no MatMul or Gemm of this model multiplies by a 2-D float weight initializer \(its ops: Gather, .*a rule judge has none/,
  );
  assert.throws(() => quantizeModel(Uint8Array.of(1, 2, 3)), /not an ONNX ModelProto/);
});
