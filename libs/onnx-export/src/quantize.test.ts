// The int8 judge: per-column weights by hand, the rewritten graph (int8 initializers, the contract
// kept, the version marked), and its scores against the fp32 judge's on text windows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProto_DataType } from "onnx-buf";
import * as ort from "onnxruntime-node";
import { Rng } from "@grpomesh/rng";
import { inspectJudgeModel, readModelMetadata } from "./contract.ts";
import { META_QUANTIZED, quantizeColumns, quantizeModel } from "./quantize.ts";

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

const ranks = (x: Float32Array) => {
  const order = [...x.keys()].sort((a, b) => x[a]! - x[b]!);
  const r = new Float64Array(x.length);
  order.forEach((i, k) => (r[i] = k));
  return r;
};

function spearman(a: Float32Array, b: Float32Array): number {
  const [ra, rb] = [ranks(a), ranks(b)];
  const n = a.length;
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += (ra[i]! - rb[i]!) ** 2;
  return 1 - (6 * d2) / (n * (n * n - 1));
}

test("the bundled judge in int8: int8 weights, the contract and metadata kept, scores ranked as the fp32 judge's", async () => {
  const fp32 = readFileSync(JUDGE);
  const { bytes, report } = quantizeModel(fp32);
  const info = inspectJudgeModel(bytes);
  const fpInfo = inspectJudgeModel(fp32);
  assert.equal(info.inputName, fpInfo.inputName);
  assert.deepEqual(info.vocab, fpInfo.vocab);
  assert.equal(info.version, `${fpInfo.version}-int8`);
  assert.match(readModelMetadata(bytes)[META_QUANTIZED]!, /^int8: 17 weight matrices, per-column symmetric/);
  assert.equal(report.quantized.length, 17, "4 blocks × (qkv, out, fc, proj) + the head");
  assert.ok(report.bytesAfter < report.bytesBefore / 3, `${report.bytesAfter} vs ${report.bytesBefore} bytes`);
  const model = fromBinary(ModelProtoSchema, bytes);
  assert.equal(model.graph!.initializer.filter((t) => t.dataType === TensorProto_DataType.INT8).length, 17);
  assert.ok(!model.graph!.node.some((n) => n.opType === "MatMul" && report.quantized.includes(n.input[1]!)), "no fp32 MatMul left on a quantized weight");

  const T = info.seqLen!;
  const N = 96;
  const ids = windows(info.vocab, T, N);
  const score = async (m: Uint8Array) => {
    const s = await ort.InferenceSession.create(m, { intraOpNumThreads: 1 });
    try {
      const out = await s.run({ [info.inputName]: new ort.Tensor("int64", ids, [N, T]) });
      return out[info.outputName]!.data as Float32Array;
    } finally {
      await s.release();
    }
  };
  const [a, b] = [await score(fp32), await score(bytes)];
  let worst = 0;
  for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  const range = Math.max(...a) - Math.min(...a);
  assert.ok(worst < 0.05 * range, `largest score difference ${worst} (the fp32 scores span ${range})`);
  const rho = spearman(a, b);
  assert.ok(rho >= 0.99, `Spearman ${rho}`);
});

test("keep leaves named weights fp32; a model already quantized, or one with nothing to quantize, is refused", () => {
  const fp32 = readFileSync(JUDGE);
  const kept = quantizeModel(fp32, { keep: ["score.weight"] });
  assert.deepEqual(kept.report.kept, ["score.weight"]);
  assert.equal(kept.report.quantized.length, 16);
  assert.match(readModelMetadata(kept.bytes)[META_QUANTIZED]!, /fp32: score\.weight$/);
  assert.throws(() => quantizeModel(fp32, { keep: ["nope"] }), /keep names "nope", which is not an initializer/);
  assert.throws(() => quantizeModel(kept.bytes), /already quantized/);
  const empty = fromBinary(ModelProtoSchema, fp32);
  empty.graph!.node = empty.graph!.node.filter((n) => n.opType !== "MatMul");
  assert.throws(() => quantizeModel(toBinary(ModelProtoSchema, empty)), /no MatMul of this model has a 2-D float weight/);
  assert.throws(() => quantizeModel(Uint8Array.of(1, 2, 3)), /not an ONNX ModelProto/);
});
