import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import * as tf from "@tensorflow/tfjs-core";
import { loadCorpus } from "@grpomesh/data";
import { defaultGeneratorConfig, initBackend, loadCheckpoint, MaskedTransformer } from "@grpomesh/model";
import { inspectJudgeModel } from "@grpomesh/onnx-export";
import { defaults, parseSettings } from "@grpomesh/config";
import { TRAIN_JUDGE_SETTINGS, trainJudgeRelations, type TrainJudgeConfig } from "./settings.ts";
import { bceWithLogits, initialJudgeWeights, judgeConfig, judgeLoss, scoreSequences, trainJudge } from "./train.ts";
import type { StepInfo } from "./train.ts";

let tmp = "";
let generatorDir = "";

before(async () => {
  await initBackend(undefined, { log: false });
  tmp = mkdtempSync(join(tmpdir(), "train-judge-"));
  // A tiny randomly initialised generator on the real corpus vocabulary: its fills are close to
  // uniform characters, which a judge learns to tell from text within a few dozen steps.
  const vocab = loadCorpus().vocab.tokens;
  const generator = new MaskedTransformer(defaultGeneratorConfig(vocab, { seq_len: 16, n_layer: 1, n_head: 2, d_model: 16, d_ff: 32 }), { seed: 5 });
  generatorDir = join(tmp, "generator");
  generator.save(generatorDir);
  generator.dispose();
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function tinyOptions(overrides: Partial<TrainJudgeConfig>): TrainJudgeConfig {
  return {
    ...defaults(TRAIN_JUDGE_SETTINGS),
    generator: generatorDir,
    n_layer: 0,
    n_head: 0,
    d_model: 0,
    d_ff: 0,
    batch_size: 8,
    steps: 3,
    warmup_steps: 1,
    eval_windows: 16,
    eval_every: 2,
    log_every: 1,
    version: "judge-test",
    name: "tiny judge",
    ...overrides,
  };
}

test("bceWithLogits is softplus(s) − y·s, weighted, averaged over the weights", () => {
  const loss = bceWithLogits(tf.tensor1d([2, -1, 0.5]), tf.tensor1d([1, 0, 0]), tf.tensor1d([1, 1, 0]));
  // (log(1+e^-2) + log(1+e^-1)) / 2
  const expected = (Math.log1p(Math.exp(-2)) + Math.log1p(Math.exp(-1))) / 2;
  assert.ok(Math.abs(loss.dataSync()[0]! - expected) < 1e-6);
  loss.dispose();
});

test("judgeLoss adds the pairwise term: softplus(−(s_pos − s_neg)) averaged over the kept pairs", () => {
  // scores [pos0, pos1 | neg0, neg1]; the pair (pos1, neg1) is left out by neg1's weight 0.
  const scores = tf.tensor1d([1.5, 0.2, -0.5, 3]);
  const labels = tf.tensor1d([1, 1, 0, 0]);
  const weights = tf.tensor1d([1, 1, 1, 0]);
  const bce = (Math.log1p(Math.exp(-1.5)) + Math.log1p(Math.exp(-0.2)) + Math.log1p(Math.exp(-0.5))) / 3;
  const pair = Math.log1p(Math.exp(-(1.5 - -0.5)));
  const loss = judgeLoss(scores, labels, weights, 0.5);
  assert.ok(Math.abs(loss.dataSync()[0]! - (bce + 0.5 * pair)) < 1e-6);
  const noPair = judgeLoss(scores, labels, weights, 0);
  assert.ok(Math.abs(noPair.dataSync()[0]! - bce) < 1e-6);
  tf.dispose([scores, labels, weights, loss, noPair]);
});

test("init=generator copies the generator's trunk (first n_layer blocks) and leaves the score head new", () => {
  const genConfig = loadCheckpoint(generatorDir).config;
  const gen = loadCheckpoint(generatorDir).weights;
  const config = judgeConfig(genConfig, tinyOptions({}));
  assert.equal(config.model_type, "sequence_scorer");
  assert.equal(config.seq_len, genConfig.seq_len);
  const judge = new MaskedTransformer(config, { seed: 1 });
  const weights = initialJudgeWeights(config, judge, { init: "generator", local_init: 0 }, gen);
  const fresh = judge.getWeights();
  judge.dispose();
  assert.deepEqual(weights.get("blocks.0.attn.qkv.weight"), gen.get("blocks.0.attn.qkv.weight"));
  assert.deepEqual(weights.get("tok_emb.weight"), gen.get("tok_emb.weight"));
  assert.deepEqual(weights.get("score.weight"), fresh.get("score.weight"));
  assert.throws(
    () => judgeConfig(genConfig, tinyOptions({ d_model: 32 })),
    /init=generator needs the generator's width and at most its depth \(n_layer ≤ 1, n_head 2, d_model 16, d_ff 32\); got n_layer 1, n_head 2, d_model 32, d_ff 32/,
  );
  assert.throws(() => judgeConfig(genConfig, tinyOptions({ n_layer: 2 })), /at most its depth/);
  const scratch = judgeConfig(genConfig, tinyOptions({ init: "scratch", n_layer: 2, d_model: 32 }));
  assert.equal(scratch.n_layer, 2);
  assert.equal(scratch.d_model, 32);
});

test("a few steps write a checkpoint and a model.onnx that meets the judge contract and matches tfjs", async () => {
  const out = join(tmp, "judge");
  const lines: string[] = [];
  const steps: StepInfo[] = [];
  const result = await trainJudge(tinyOptions({ out }), { log: (l) => lines.push(l), onStepEnd: (s) => steps.push(s) });

  assert.deepEqual(
    steps.map((s) => s.step),
    [1, 2, 3],
  );
  assert.ok(
    lines.some((l) => /^step 3\/3 \| loss \d+\.\d{4} \| acc \d\.\d{3} \| [\d.]+ seq\/s \| lr .* \| ETA \d+s$/.test(l)),
    lines.join("\n"),
  );
  assert.deepEqual(
    result.evals.map((e) => e.step),
    [2, 3],
  );
  assert.ok(result.final.auc >= 0 && result.final.auc <= 1);
  assert.ok(result.exportMaxDiff <= 1e-4);

  const bytes = readFileSync(join(out, "model.onnx"));
  const session = await ort.InferenceSession.create(bytes);
  const info = inspectJudgeModel(bytes, session);
  assert.equal(info.version, "judge-test");
  assert.equal(info.name, "tiny judge");
  assert.equal(info.seqLen, 16);
  assert.deepEqual(info.vocab, loadCorpus().vocab.tokens);
  assert.equal(info.metadata["grpomesh.heldout_auc"], result.final.auc.toFixed(4));

  // The checkpoint and the ONNX file hold the same judge.
  const ckpt = loadCheckpoint(out);
  assert.equal(ckpt.config.model_type, "sequence_scorer");
  const judge = new MaskedTransformer(ckpt.config);
  judge.setWeights(ckpt.weights);
  const ids = Int32Array.from({ length: 4 * 16 }, (_, i) => 2 + ((i * 7) % 70));
  const tfScores = await scoreSequences(judge, ids, 16);
  judge.dispose();
  const onnx = await session.run({
    tokens: new ort.Tensor(
      "int64",
      BigInt64Array.from(ids, (v) => BigInt(v)),
      [4, 16],
    ),
  });
  const onnxScores = onnx.score!.data as Float32Array;
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(onnxScores[i]! - tfScores[i]!) < 1e-4);

  const summary = JSON.parse(readFileSync(join(out, "train-judge.json"), "utf8"));
  assert.equal(summary.heldout.auc, result.final.auc);
  assert.equal(summary.options.steps, 3);
});

test("the judge learns: held-out AUC against (near-random) generator fills rises well above chance", async () => {
  const result = await trainJudge(
    tinyOptions({
      out: join(tmp, "judge-learns"),
      steps: 60,
      batch_size: 16,
      learning_rate: 3e-3,
      warmup_steps: 5,
      eval_windows: 64,
      eval_every: 1000,
      log_every: 1000,
    }),
    { log: () => {} },
  );
  assert.ok(result.final.auc > 0.8, `held-out AUC after 60 steps is ${result.final.auc}`);
  assert.ok(result.final.accuracy > 0.7, `held-out accuracy after 60 steps is ${result.final.accuracy}`);
});

test("a generator with another vocabulary than the corpus is refused", async () => {
  const other = new MaskedTransformer(defaultGeneratorConfig(["[PAD]", "[MASK]", "x", "y"], { seq_len: 16, n_layer: 1, n_head: 2, d_model: 8, d_ff: 16 }));
  const dir = join(tmp, "other-generator");
  other.save(dir);
  other.dispose();
  await assert.rejects(
    () => trainJudge(tinyOptions({ generator: dir, out: join(tmp, "never") }), { log: () => {} }),
    /was trained on another vocabulary than the corpus: vocabularies differ at id 2/,
  );
});
