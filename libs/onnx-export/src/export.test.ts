import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { expectedTensorShapes, initBackend, MaskedTransformer, validateConfig } from "@grpomesh/model";
import type { ModelConfig, ModelType } from "@grpomesh/model";
import { Rng } from "@grpomesh/rng";
import { exportModelToOnnx } from "./export.ts";
import { inspectJudgeModel, JudgeContractError, readModelMetadata } from "./contract.ts";

const VOCAB = ["[PAD]", "[MASK]", "\n", " ", ",", ".", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"];

function smallConfig(modelType: ModelType): ModelConfig {
  return validateConfig({
    model_type: modelType,
    vocab_size: VOCAB.length,
    seq_len: 16,
    n_layer: 2,
    n_head: 4,
    d_model: 32,
    d_ff: 64,
    dropout: 0,
    ln_eps: 1e-5,
    activation: "gelu_tanh",
    vocab: VOCAB,
    mask_token_id: 1,
    pad_token_id: 0,
  });
}

/**
 * Seeded random weights at a scale that makes every part of the network matter (the GPT-2 init's
 * 0.02 would leave attention nearly uniform and hide a wrong head split or transpose).
 */
function randomWeights(config: ModelConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const isLnWeight = /ln(1|2|_f)\.weight$/.test(name);
    const scale = name.endsWith(".bias") ? 0.1 : isLnWeight ? 0.2 : 0.5 / Math.sqrt(shape[0]!);
    weights.set(
      name,
      Float32Array.from({ length: size }, () => (isLnWeight ? 1 : 0) + scale * rng.normal() * (name.includes("emb") ? Math.sqrt(shape[0]!) : 1)),
    );
  }
  return weights;
}

function randomIds(rng: Rng, batch: number, seqLen: number, vocabSize: number): Int32Array {
  return Int32Array.from({ length: batch * seqLen }, () => rng.nextInt(vocabSize));
}

async function tfjsForward(config: ModelConfig, weights: Map<string, Float32Array>, ids: Int32Array, batch: number): Promise<Float32Array> {
  const model = new MaskedTransformer(config);
  try {
    model.setWeights(weights);
    const out = model.forwardIds(ids, batch, config.seq_len);
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  } finally {
    model.dispose();
  }
}

async function onnxForward(bytes: Uint8Array, ids: Int32Array, batch: number, seqLen: number): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({
      tokens: new ort.Tensor(
        "int64",
        BigInt64Array.from(ids, (v) => BigInt(v)),
        [batch, seqLen],
      ),
    });
    const value = out[session.outputNames[0]!]!;
    return { data: value.data as Float32Array, dims: value.dims };
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

before(async () => {
  await initBackend(undefined, { log: false });
});

test("the exported scorer's scores equal tfjs MaskedTransformer's within 1e-4", async () => {
  const config = smallConfig("sequence_scorer");
  const weights = randomWeights(config, 7);
  const batch = 5;
  const ids = randomIds(new Rng(8), batch, config.seq_len, config.vocab_size);
  const bytes = exportModelToOnnx(config, weights, { version: "judge-test" });
  const expected = await tfjsForward(config, weights, ids, batch);
  const got = await onnxForward(bytes, ids, batch, config.seq_len);
  assert.deepEqual(got.dims, [batch]);
  const spread = Math.max(...expected) - Math.min(...expected);
  assert.ok(spread > 0.1, `scores should differ between inputs (spread ${spread}); otherwise the comparison proves little`);
  const diff = maxAbsDiff(got.data, expected);
  assert.ok(diff < 1e-4, `ONNX vs tfjs scores differ by ${diff}`);
});

test("the exported generator's logits equal tfjs MaskedTransformer's within 1e-4", async () => {
  const config = smallConfig("masked_lm");
  const weights = randomWeights(config, 11);
  const batch = 3;
  const ids = randomIds(new Rng(12), batch, config.seq_len, config.vocab_size);
  const bytes = exportModelToOnnx(config, weights);
  const expected = await tfjsForward(config, weights, ids, batch);
  const got = await onnxForward(bytes, ids, batch, config.seq_len);
  assert.deepEqual(got.dims, [batch, config.seq_len, config.vocab_size]);
  const diff = maxAbsDiff(got.data, expected);
  assert.ok(diff < 1e-4, `ONNX vs tfjs logits differ by ${diff}`);
});

test("one batch element's output does not depend on the others (batch is dynamic and independent)", async () => {
  const config = smallConfig("sequence_scorer");
  const bytes = exportModelToOnnx(config, randomWeights(config, 3));
  const ids = randomIds(new Rng(4), 4, config.seq_len, config.vocab_size);
  const all = await onnxForward(bytes, ids, 4, config.seq_len);
  const one = await onnxForward(bytes, ids.subarray(2 * config.seq_len, 3 * config.seq_len), 1, config.seq_len);
  assert.ok(Math.abs(all.data[2]! - one.data[0]!) < 1e-6);
});

test("the exported scorer meets the judge contract; the generator is refused by it", async () => {
  const scorer = smallConfig("sequence_scorer");
  const bytes = exportModelToOnnx(scorer, randomWeights(scorer, 1), { version: "judge-v9", name: "test judge" });
  const info = inspectJudgeModel(bytes, await ort.InferenceSession.create(bytes));
  assert.equal(info.inputName, "tokens");
  assert.equal(info.inputDtype, "int64");
  assert.equal(info.seqLen, 16);
  assert.equal(info.outputName, "score");
  assert.deepEqual(info.outputShape, ["batch"]);
  assert.deepEqual(info.vocab, VOCAB);
  assert.equal(info.version, "judge-v9");
  assert.equal(info.name, "test judge");
  assert.deepEqual(JSON.parse(info.metadata["grpomesh.config"]!), scorer);

  const generator = smallConfig("masked_lm");
  const genBytes = exportModelToOnnx(generator, randomWeights(generator, 1));
  assert.equal(readModelMetadata(genBytes)["grpomesh.model_type"], "masked_lm");
  assert.throws(
    () => inspectJudgeModel(genBytes),
    new JudgeContractError(`output "logits" has shape [batch, 16, ${VOCAB.length}]; expected [batch] or [batch, 1]`),
  );
});

test("weights that do not match the config are refused before anything is written", () => {
  const config = smallConfig("sequence_scorer");
  const weights = randomWeights(config, 1);
  weights.delete("blocks.1.mlp.fc.bias");
  assert.throws(() => exportModelToOnnx(config, weights), /weights to export do not match the config[\s\S]*missing "blocks\.1\.mlp\.fc\.bias" \[64\]/);
  const generatorWeights = randomWeights(smallConfig("masked_lm"), 1);
  assert.throws(() => exportModelToOnnx(config, generatorWeights), /unexpected "head\.weight"/);
});
