// Trains the judge: a sequence scorer whose score (a logit) says how real a filled-in window reads.
// Positives are real train windows; negatives are the same windows with their masked positions
// filled by the generator (or, for a share, random characters). Binary cross-entropy on the score,
// plus a pairwise term on s(real) − s(fill); by default the judge starts from the generator's trunk,
// because from scratch it does not learn character statistics in the ten-minute budget (README).
import { resolve } from "node:path";
import * as ort from "onnxruntime-node";
import * as tf from "@tensorflow/tfjs-core";
import { checkValues } from "@grpomesh/config";
import { fixedEvalBatches, loadCorpus, MaskedBatchStream, Vocabulary } from "@grpomesh/data";
import type { Corpus, MaskingSpec } from "@grpomesh/data";
import {
  AdamW,
  cosineLearningRate,
  initBackend,
  loadCheckpoint,
  localAttentionInit,
  MaskedTransformer,
  parameterCount,
  saveCheckpoint,
  specialTokenIds,
  trainStep,
  validateConfig,
} from "@grpomesh/model";
import type { ModelConfig, Weights } from "@grpomesh/model";
import { exportModelToOnnx, inspectJudgeModel } from "@grpomesh/onnx-export";
import type { JudgeModelInfo } from "@grpomesh/onnx-export";
import { mixSeeds } from "@grpomesh/rng";
import { accuracy, rocAuc } from "./metrics.ts";
import { makeNegatives, OnnxGenerator } from "./negatives.ts";
import { TRAIN_JUDGE_SETTINGS, trainJudgeRelations, type TrainJudgeConfig } from "./settings.ts";

export const ONNX_FILE = "model.onnx";
export const SUMMARY_FILE = "train-judge.json";
/** Largest |ONNX − tfjs| score difference accepted before the export is written. */
export const EXPORT_TOLERANCE = 1e-4;

export interface EvalResult {
  step: number;
  accuracy: number;
  auc: number;
  loss: number;
  /** Accuracy on the positives and on the negatives separately. */
  accuracyReal: number;
  accuracyFake: number;
}

export interface StepInfo {
  step: number;
  steps: number;
  loss: number;
  accuracy: number;
  learningRate: number;
  gradNorm: number;
  seqPerSecond: number;
  etaSeconds: number;
}

export interface TrainJudgeHooks {
  log?: (line: string) => void;
  onStepEnd?: (info: StepInfo) => void;
  onEval?: (result: EvalResult) => void;
}

export interface TrainJudgeResult {
  outDir: string;
  onnxPath: string;
  config: ModelConfig;
  final: EvalResult;
  evals: EvalResult[];
  /** Largest |ONNX − tfjs| over the verification sequences. */
  exportMaxDiff: number;
  contract: JudgeModelInfo;
  wallSeconds: number;
  /** Negatives equal to their positive (the fill reproduced the text), left out of the loss. */
  identicalNegatives: number;
}

interface LabelledSet {
  ids: Int32Array;
  labels: Float32Array;
  /** 0 for examples left out (negatives identical to their positive). */
  weights: Float32Array;
  count: number;
}

/** Mean binary cross-entropy with the score as a logit: softplus(s) − y·s, weighted. */
export function bceWithLogits(scores: tf.Tensor1D, labels: tf.Tensor1D, weights: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const perExample = tf.sub(tf.softplus(scores), tf.mul(labels, scores));
    return tf.div(tf.sum(tf.mul(perExample, weights)), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
  });
}

/**
 * The judge's loss on scores laid out [m positives, their m negatives]: BCE on every score plus
 * `pairWeight` × BCE on s(positive) − s(negative) with label 1 (a Bradley–Terry term). Pairs and
 * examples with weight 0 (negatives identical to their positive) are left out.
 */
export function judgeLoss(scores: tf.Tensor1D, labels: tf.Tensor1D, weights: tf.Tensor1D, pairWeight: number): tf.Scalar {
  return tf.tidy(() => {
    const bce = bceWithLogits(scores, labels, weights);
    if (pairWeight === 0) return bce;
    const m = scores.shape[0] / 2;
    const diff = tf.sub(tf.slice(scores, 0, m), tf.slice(scores, m, m));
    const pairWeights = tf.slice(weights, m, m);
    const pair = tf.div(tf.sum(tf.mul(tf.softplus(tf.neg(diff)), pairWeights)), tf.maximum(tf.sum(pairWeights), 1));
    return tf.add(bce, tf.mul(pair, pairWeight)) as tf.Scalar;
  });
}

/**
 * The judge's config: the generator's vocabulary and seq_len, the architecture from the settings
 * (0 = the generator's value). Starting from the generator needs its width and at most its depth.
 */
export function judgeConfig(gen: ModelConfig, o: TrainJudgeConfig): ModelConfig {
  const arch = { n_layer: o.n_layer || gen.n_layer, n_head: o.n_head || gen.n_head, d_model: o.d_model || gen.d_model, d_ff: o.d_ff || gen.d_ff };
  if (o.init === "generator") {
    const clash = (["n_head", "d_model", "d_ff"] as const).filter((k) => arch[k] !== gen[k]);
    if (clash.length || arch.n_layer > gen.n_layer) {
      throw new Error(
        `init=generator needs the generator's width and at most its depth (n_layer ≤ ${gen.n_layer}, n_head ${gen.n_head}, d_model ${gen.d_model}, d_ff ${gen.d_ff}); ` +
          `got n_layer ${arch.n_layer}, n_head ${arch.n_head}, d_model ${arch.d_model}, d_ff ${arch.d_ff}. Leave them at 0 or use --init=scratch`,
      );
    }
  }
  return validateConfig({
    model_type: "sequence_scorer",
    vocab_size: gen.vocab_size,
    seq_len: gen.seq_len,
    ...arch,
    dropout: o.dropout,
    ln_eps: gen.ln_eps,
    activation: "gelu_tanh",
    vocab: gen.vocab,
    mask_token_id: gen.mask_token_id,
    pad_token_id: gen.pad_token_id,
  });
}

/** Initial judge weights: the generator's embeddings, first n_layer blocks and ln_f, or a fresh model. */
export function initialJudgeWeights(
  config: ModelConfig,
  judge: MaskedTransformer,
  o: Pick<TrainJudgeConfig, "init" | "local_init">,
  generator: Weights,
): Weights {
  const weights = judge.getWeights();
  if (o.init === "generator") {
    for (const name of weights.keys()) {
      if (name.startsWith("score.")) continue; // the head is new: nothing in the generator scores sequences
      weights.set(name, generator.get(name)!.slice());
    }
  } else if (o.local_init > 0) {
    localAttentionInit(config, weights, o.local_init);
  }
  return weights;
}

/** Scores of many sequences in chunks (inference: no tape, one chunk's activations at a time). */
export async function scoreSequences(model: MaskedTransformer, ids: Int32Array, seqLen: number, chunk = 64): Promise<Float32Array> {
  const n = ids.length / seqLen;
  const out = new Float32Array(n);
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const scores = model.forwardIds(ids.subarray(start * seqLen, (start + size) * seqLen), size, seqLen);
    out.set((await scores.data()) as Float32Array, start);
    scores.dispose();
  }
  return out;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

async function buildEvalSet(corpus: Corpus, generator: OnnxGenerator, o: TrainJudgeConfig, masking: MaskingSpec, config: ModelConfig): Promise<LabelledSet> {
  const T = config.seq_len;
  const batchSize = Math.min(64, o.eval_windows);
  const count = Math.ceil(o.eval_windows / batchSize);
  const batches = fixedEvalBatches(corpus.heldout, {
    count,
    batchSize,
    seqLen: T,
    seed: mixSeeds(o.seed, "judge-eval"),
    masking,
    maskTokenId: config.mask_token_id,
  });
  const parts: LabelledSet[] = [];
  for (const [k, batch] of batches.entries()) {
    // Held-out negatives come from the generator only: the hard case the judge exists for.
    const neg = await makeNegatives(generator, {
      inputs: batch.inputs,
      targets: batch.targets,
      batch: batchSize,
      seqLen: T,
      maskTokenId: config.mask_token_id,
      specialIds: specialTokenIds(config),
      vocabSize: config.vocab_size,
      randomShare: 0,
      temperature: o.temperature,
      topP: o.top_p,
      seed: mixSeeds(o.seed, "judge-eval-negatives", k),
    });
    parts.push(pairUp(batch.targets, neg.ids, neg.identical, batchSize, T));
  }
  return concatSets(parts, T);
}

/** [positives…, negatives…] with labels 1/0; identical negatives get weight 0. */
function pairUp(positives: Int32Array, negatives: Int32Array, identical: Uint8Array, batch: number, T: number): LabelledSet {
  const ids = new Int32Array(2 * batch * T);
  ids.set(positives, 0);
  ids.set(negatives, batch * T);
  const labels = new Float32Array(2 * batch);
  labels.fill(1, 0, batch);
  const weights = new Float32Array(2 * batch).fill(1);
  for (let b = 0; b < batch; b++) if (identical[b]) weights[batch + b] = 0;
  return { ids, labels, weights, count: 2 * batch };
}

function concatSets(parts: LabelledSet[], T: number): LabelledSet {
  const count = parts.reduce((a, p) => a + p.count, 0);
  const out: LabelledSet = { ids: new Int32Array(count * T), labels: new Float32Array(count), weights: new Float32Array(count), count };
  let at = 0;
  for (const p of parts) {
    out.ids.set(p.ids, at * T);
    out.labels.set(p.labels, at);
    out.weights.set(p.weights, at);
    at += p.count;
  }
  return out;
}

async function evaluate(model: MaskedTransformer, set: LabelledSet, T: number, step: number): Promise<EvalResult> {
  const all = await scoreSequences(model, set.ids, T);
  const keep = [...set.weights.keys()].filter((i) => set.weights[i]! > 0);
  const scores = keep.map((i) => all[i]!);
  const labels = keep.map((i) => set.labels[i]!);
  const real = keep.filter((i) => set.labels[i] === 1);
  const fake = keep.filter((i) => set.labels[i] === 0);
  let loss = 0;
  for (const i of keep) loss += Math.max(all[i]!, 0) - all[i]! * set.labels[i]! + Math.log1p(Math.exp(-Math.abs(all[i]!)));
  return {
    step,
    accuracy: accuracy(scores, labels),
    auc: rocAuc(scores, labels),
    loss: loss / keep.length,
    accuracyReal: accuracy(
      real.map((i) => all[i]!),
      real.map(() => 1),
    ),
    accuracyFake: accuracy(
      fake.map((i) => all[i]!),
      fake.map(() => 0),
    ),
  };
}

/**
 * Exports the judge, checks the contract, and compares onnxruntime's scores with tfjs's on
 * `ids`; throws if they differ by more than EXPORT_TOLERANCE. Returns the bytes and the largest diff.
 */
export async function exportVerifiedJudge(
  model: MaskedTransformer,
  ids: Int32Array,
  o: Pick<TrainJudgeConfig, "version" | "name">,
  metadata: Record<string, string> = {},
): Promise<{ bytes: Uint8Array; maxDiff: number; contract: JudgeModelInfo }> {
  const T = model.config.seq_len;
  const bytes = exportModelToOnnx(model.config, model.getWeights(), { version: o.version, name: o.name, metadata });
  const session = await ort.InferenceSession.create(bytes);
  try {
    const contract = inspectJudgeModel(bytes, session);
    const n = ids.length / T;
    const out = await session.run({
      [contract.inputName]: new ort.Tensor(
        "int64",
        BigInt64Array.from(ids, (v) => BigInt(v)),
        [n, T],
      ),
    });
    const onnxScores = out[contract.outputName]!.data as Float32Array;
    const tfScores = await scoreSequences(model, ids, T);
    let maxDiff = 0;
    for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(onnxScores[i]! - tfScores[i]!));
    if (!(maxDiff <= EXPORT_TOLERANCE)) {
      throw new Error(
        `the ONNX export's scores differ from tfjs's by up to ${maxDiff} (tolerance ${EXPORT_TOLERANCE}); not writing it. This is an exporter bug: report it with the checkpoint.`,
      );
    }
    return { bytes, maxDiff, contract };
  } finally {
    await session.release();
  }
}

/** Runs a whole judge training (see the file comment) and writes `out`; returns the final metrics. */
export async function trainJudge(o: TrainJudgeConfig, hooks: TrainJudgeHooks = {}): Promise<TrainJudgeResult> {
  checkValues(TRAIN_JUDGE_SETTINGS, o, trainJudgeRelations);
  const masking = JSON.parse(o.masking) as MaskingSpec;
  const log = hooks.log ?? ((line: string) => console.log(line));
  const started = performance.now();
  await initBackend(undefined, { log });

  const corpus = o.corpus ? loadCorpus(resolve(o.corpus)) : loadCorpus();
  const gen = loadCheckpoint(resolve(o.generator));
  const difference = corpus.vocab.describeDifference(Vocabulary.fromJSON(gen.config));
  if (difference)
    throw new Error(
      `the generator at ${o.generator} was trained on another vocabulary than the corpus: ${difference}; use a generator pretrained on this corpus`,
    );
  const generator = await OnnxGenerator.create(gen.config, gen.weights, o.ort_threads);

  const config = judgeConfig(gen.config, o);
  const T = config.seq_len;
  const B = o.batch_size;
  const judge = new MaskedTransformer(config, { seed: mixSeeds(o.seed, "judge-init") });
  judge.setWeights(initialJudgeWeights(config, judge, o, gen.weights));
  const optimizer = new AdamW(judge.variables, { weightDecay: o.weight_decay });
  const stream = new MaskedBatchStream({
    ids: corpus.train,
    seqLen: T,
    batchSize: B,
    seed: mixSeeds(o.seed, "judge-train"),
    masking,
    maskTokenId: config.mask_token_id,
  });
  const schedule = { lr: o.learning_rate, warmupSteps: o.warmup_steps, maxSteps: o.steps, minLrRatio: o.min_lr_ratio };
  log(
    `train-judge: judge ${parameterCount(config)} params (${config.n_layer} layers, d_model ${config.d_model}, ${config.n_head} heads, d_ff ${config.d_ff}, seq_len ${T}; init ${o.init}); ` +
      `generator ${o.generator} (${parameterCount(gen.config)} params, onnxruntime ${o.ort_threads} thread(s)); ${o.steps} steps × ${B} windows (${2 * B} sequences); ` +
      `negatives: generator τ=${o.temperature} top_p=${o.top_p}, ${Math.round(o.random_share * 100)}% random characters; loss BCE + ${o.pair_loss_weight} × pairwise; out ${o.out}`,
  );

  try {
    const evalSet = await buildEvalSet(corpus, generator, o, masking, config);
    log(
      `held-out eval set: ${evalSet.count} sequences from ${corpus.meta.split.heldout_books.length} held-out books (${corpus.meta.split.heldout_books[0]} … ${corpus.meta.split.heldout_books.at(-1)})`,
    );
    const evals: EvalResult[] = [];
    const runEval = async (step: number) => {
      const result = await evaluate(judge, evalSet, T, step);
      evals.push(result);
      hooks.onEval?.(result);
      log(
        `eval step ${step}: held-out acc ${result.accuracy.toFixed(4)} AUC ${result.auc.toFixed(4)} loss ${result.loss.toFixed(4)} (real ${result.accuracyReal.toFixed(3)}, generated ${result.accuracyFake.toFixed(3)})`,
      );
      return result;
    };

    let identicalNegatives = 0;
    let windowLoss = 0;
    let windowHits = 0;
    let windowCount = 0;
    let genSeconds = 0;
    const trainStart = performance.now();
    for (let step = 0; step < o.steps; step++) {
      const batch = stream.next();
      const genStart = performance.now();
      const neg = await makeNegatives(generator, {
        inputs: batch.inputs,
        targets: batch.targets,
        batch: B,
        seqLen: T,
        maskTokenId: config.mask_token_id,
        specialIds: specialTokenIds(config),
        vocabSize: config.vocab_size,
        randomShare: o.random_share,
        temperature: o.temperature,
        topP: o.top_p,
        seed: mixSeeds(o.seed, "judge-train-negatives", step),
      });
      genSeconds += (performance.now() - genStart) / 1000;
      identicalNegatives += neg.identical.reduce((a, b) => a + b, 0);

      // Micro-batch i holds windows [i·m, (i+1)·m): their positives and their negatives.
      const m = B / o.micro_batches;
      const micro = Array.from({ length: o.micro_batches }, (_, i) =>
        pairUp(
          batch.targets.subarray(i * m * T, (i + 1) * m * T),
          neg.ids.subarray(i * m * T, (i + 1) * m * T),
          neg.identical.subarray(i * m, (i + 1) * m),
          m,
          T,
        ),
      );
      const weightSums = micro.map((s) => s.weights.reduce((a, b) => a + b, 0));
      const total = weightSums.reduce((a, b) => a + b, 0);
      let hits = 0;
      const lr = cosineLearningRate(step, schedule);
      const result = trainStep(
        (i) => {
          const s = micro[i]!;
          const scores = judge.forwardIds(s.ids, s.count, T, { training: true }) as tf.Tensor1D;
          const values = scores.dataSync();
          for (let k = 0; k < s.count; k++) if (s.weights[k]! > 0 && (values[k]! > 0 ? 1 : 0) === s.labels[k]) hits++;
          return judgeLoss(scores, tf.tensor1d(s.labels), tf.tensor1d(s.weights), o.pair_loss_weight);
        },
        { optimizer, learningRate: lr, maxGradNorm: o.grad_clip, microBatches: o.micro_batches, microBatchWeights: weightSums.map((w) => w / total) },
      );
      windowLoss += result.loss * total;
      windowHits += hits;
      windowCount += total;

      const done = step + 1;
      const elapsed = (performance.now() - trainStart) / 1000;
      const seqPerSecond = (done * 2 * B) / elapsed;
      const etaSeconds = ((o.steps - done) * elapsed) / done;
      const info: StepInfo = {
        step: done,
        steps: o.steps,
        loss: windowLoss / windowCount,
        accuracy: windowHits / windowCount,
        learningRate: lr,
        gradNorm: result.gradNorm,
        seqPerSecond,
        etaSeconds,
      };
      hooks.onStepEnd?.(info);
      if (done % o.log_every === 0 || done === o.steps) {
        log(
          `step ${done}/${o.steps} | loss ${info.loss.toFixed(4)} | acc ${info.accuracy.toFixed(3)} | ${seqPerSecond.toFixed(1)} seq/s | ` +
            `lr ${lr.toExponential(2)} | grad ${result.gradNorm.toFixed(2)} | gen ${Math.round((100 * genSeconds) / elapsed)}% | ETA ${formatDuration(etaSeconds)}`,
        );
        windowLoss = windowHits = windowCount = 0;
      }
      if (done % o.eval_every === 0 && done !== o.steps) await runEval(done);
    }
    const final = await runEval(o.steps);

    // Verify on held-out sequences (both classes) before anything is written.
    const verifyCount = Math.min(evalSet.count, 64);
    const verifyIds = new Int32Array(verifyCount * T);
    for (let k = 0; k < verifyCount; k++) {
      const from = Math.floor((k * evalSet.count) / verifyCount);
      verifyIds.set(evalSet.ids.subarray(from * T, (from + 1) * T), k * T);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const trainMetadata = {
      "grpomesh.heldout_accuracy": final.accuracy.toFixed(4),
      "grpomesh.heldout_auc": final.auc.toFixed(4),
      "grpomesh.train_steps": String(o.steps),
    };
    const exported = await exportVerifiedJudge(judge, verifyIds, o, trainMetadata);
    const outDir = resolve(o.out);
    const summary = {
      version: o.version,
      options: { ...o, masking },
      generator: { path: o.generator, digest: gen.digest },
      heldout: final,
      evals,
      export_max_abs_diff: exported.maxDiff,
      identical_negatives: identicalNegatives,
      wall_seconds: Math.round(wallSeconds),
      sequences_per_second: Math.round(((o.steps * 2 * B) / ((performance.now() - trainStart) / 1000)) * 10) / 10,
    };
    saveCheckpoint(outDir, {
      config,
      weights: judge.getWeights(),
      metadata: { "grpomesh.version": o.version },
      extraFiles: { [ONNX_FILE]: exported.bytes, [SUMMARY_FILE]: JSON.stringify(summary, null, 2) + "\n" },
    });
    const onnxPath = resolve(outDir, ONNX_FILE);
    log(
      `wrote ${outDir} (config.json, model.safetensors, ${ONNX_FILE} ${(exported.bytes.length / 1e6).toFixed(2)} MB, ${SUMMARY_FILE}); ` +
        `ONNX matches tfjs within ${exported.maxDiff.toExponential(1)}; held-out acc ${final.accuracy.toFixed(4)} AUC ${final.auc.toFixed(4)}; wall ${formatDuration(wallSeconds)}`,
    );
    return { outDir, onnxPath, config, final, evals, exportMaxDiff: exported.maxDiff, contract: exported.contract, wallSeconds, identicalNegatives };
  } finally {
    optimizer.dispose();
    judge.dispose();
    await generator.release();
  }
}
