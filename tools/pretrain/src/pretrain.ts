// Pretrains the generator as a masked LM on a task's training stream (KJV windows or Sudoku puzzles →
// solutions), evaluating on the task's fixed held-out batches, and writes a checkpoint folder (config.json + model.safetensors). Read it like
// nanoGPT's train.py: the settings grouped under headers (settings.ts), one flat loop.
import * as tf from "@tensorflow/tfjs-core";
import { checkValues } from "@grpomesh/config";
import { Vocabulary, type MaskingSpec } from "@grpomesh/data";
import { loadTask, type TaskBatch, type TaskData } from "@grpomesh/tasks";
import {
  AdamW,
  cosineLearningRate,
  defaultGeneratorConfig,
  flopsPerToken,
  initBackend,
  localAttentionInit,
  MaskedTransformer,
  maskedLmLoss,
  maskedTokenAccuracy,
  parameterCount,
  trainStep,
} from "@grpomesh/model";
import { PRETRAIN_SETTINGS, pretrainRelations, type PretrainConfig } from "./settings.ts";

export interface EvalResult {
  loss: number;
  accuracy: number;
  /** Share of inputs whose argmax fill the task's verifier says is solved. */
  solveRate: number;
  maskedTokens: number;
}

export interface PretrainResult {
  steps: number;
  seconds: number;
  tokensPerSecond: number;
  before: EvalResult;
  after: EvalResult;
  history: Array<{ step: number } & EvalResult>;
  digest: string;
  out: string;
  stoppedBy: "max_steps" | "max_minutes";
}

function toTensors(batch: TaskBatch): { inputs: tf.Tensor2D; targets: tf.Tensor2D; mask: tf.Tensor2D } {
  const shape: [number, number] = [batch.batchSize, batch.seqLen];
  return {
    inputs: tf.tensor2d(batch.inputs, shape, "int32"),
    targets: tf.tensor2d(batch.targets, shape, "int32"),
    mask: tf.tensor2d(Float32Array.from(batch.mask), shape, "float32"),
  };
}

/** Held-out loss (mean over all masked tokens of the set), argmax accuracy, and the verifier's solve rate of the argmax fills. */
export function evaluate(model: MaskedTransformer, data: TaskData): EvalResult {
  let lossSum = 0;
  let correct = 0;
  let total = 0;
  let solved = 0;
  let inputs = 0;
  for (const batch of data.evalBatches()) {
    const t = toTensors(batch);
    const logits = model.forward(t.inputs);
    const loss = maskedLmLoss(logits, t.targets, t.mask);
    const acc = maskedTokenAccuracy(logits, t.targets, t.mask);
    const best = tf.argMax(logits, -1);
    const argmax = best.dataSync() as Int32Array;
    lossSum += loss.dataSync()[0]! * acc.total;
    correct += acc.correct;
    total += acc.total;
    const T = batch.seqLen;
    for (let b = 0; b < batch.batchSize; b++) {
      const input = batch.inputs.subarray(b * T, (b + 1) * T);
      const fill = Int32Array.from(input, (x, i) => (batch.mask[b * T + i] ? argmax[b * T + i]! : x));
      if (data.solved(input, fill, batch.targets.subarray(b * T, (b + 1) * T))) solved++;
      inputs++;
    }
    tf.dispose([logits, loss, best, t.inputs, t.targets, t.mask]);
  }
  return { loss: lossSum / Math.max(total, 1), accuracy: correct / Math.max(total, 1), solveRate: solved / Math.max(inputs, 1), maskedTokens: total };
}

const formatEval = (step: number, e: EvalResult) =>
  `eval step ${step}: held-out loss ${e.loss.toFixed(4)}, masked accuracy ${(100 * e.accuracy).toFixed(2)}%, solved (argmax) ${(100 * e.solveRate).toFixed(1)}%`;

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export async function pretrain(o: PretrainConfig, log: (line: string) => void = (l) => console.log(l)): Promise<PretrainResult> {
  checkValues(PRETRAIN_SETTINGS, o, pretrainRelations);
  const backend = await initBackend(o.backend || undefined, { log });
  const task = loadTask(o.task, { blanks: o.blanks, corpus: o.corpus });
  const masking = JSON.parse(o.masking) as MaskingSpec;

  // model: fresh (seeded, the architecture below) or continued from a checkpoint (its architecture)
  let model: MaskedTransformer;
  if (o.init) {
    model = MaskedTransformer.fromCheckpoint(o.init);
    const difference = task.vocab.describeDifference(Vocabulary.fromJSON(model.config));
    if (difference) throw new Error(`${o.init} does not speak task ${task.name}'s vocabulary: ${difference}`);
    if (task.seqLen !== null && model.config.seq_len !== task.seqLen)
      throw new Error(`${o.init} has seq_len ${model.config.seq_len}; task ${task.name} is ${task.seqLen} tokens`);
  } else {
    const fresh = defaultGeneratorConfig(task.vocab.tokens, {
      seq_len: task.seqLen ?? o.seq_len,
      n_layer: o.n_layer,
      n_head: o.n_head,
      d_model: o.d_model,
      d_ff: o.d_ff,
      dropout: o.dropout,
    });
    model = new MaskedTransformer(fresh, { seed: o.seed });
    if (o.local_init > 0) {
      const weights = model.getWeights();
      localAttentionInit(fresh, weights, o.local_init);
      model.setWeights(weights);
    }
  }
  const config = model.config;
  const optimizer = new AdamW(model.variables, { beta1: o.beta1, beta2: o.beta2, weightDecay: o.weight_decay });
  const flops = flopsPerToken(config);
  log(
    `model: ${parameterCount(config)} parameters (n_layer ${config.n_layer}, n_head ${config.n_head}, d_model ${config.d_model}, d_ff ${config.d_ff}, ` +
      `seq_len ${config.seq_len}, vocab ${config.vocab_size}); ${(flops.train / 1e6).toFixed(2)} MFLOP/token to train; backend ${backend.backend}`,
  );

  // data
  const micro = o.batch_size / o.micro_batches;
  const data = task.data({ seqLen: config.seq_len, batchSize: micro, seed: o.seed, evalBatches: o.eval_batches, evalBatchSize: o.eval_batch_size, masking });
  log(`data: task ${task.name}: ${task.describe}; eval on ${o.eval_batches}×${o.eval_batch_size} fixed held-out inputs`);

  const before = evaluate(model, data);
  const history: PretrainResult["history"] = [{ step: 0, ...before }];
  log(`${formatEval(0, before)} (${before.maskedTokens} masked tokens)`);

  const schedule = { lr: o.learning_rate, warmupSteps: o.warmup_steps, maxSteps: o.max_steps, minLrRatio: o.min_lr_ratio };
  const start = performance.now();
  const budgetMs = o.max_minutes > 0 ? o.max_minutes * 60_000 : Infinity;
  let lastProgress = start;
  let trainMs = 0;
  let tokens = 0;
  let step = 0;
  let stoppedBy: PretrainResult["stoppedBy"] = "max_steps";
  let emaLoss = NaN;
  while (step < o.max_steps) {
    if (performance.now() - start >= budgetMs) {
      stoppedBy = "max_minutes";
      log(`stopping at step ${step}: the max_minutes budget of ${o.max_minutes} is spent`);
      break;
    }
    const t0 = performance.now();
    const batches = Array.from({ length: o.micro_batches }, () => data.next());
    const counts = batches.map((b) => b.mask.reduce((a, x) => a + x, 0));
    const masked = counts.reduce((a, b) => a + b, 0);
    const tensors = batches.map(toTensors);
    const lr = cosineLearningRate(step, schedule);
    const result = trainStep((i) => maskedLmLoss(model.forward(tensors[i]!.inputs, { training: true }), tensors[i]!.targets, tensors[i]!.mask), {
      optimizer,
      learningRate: lr,
      maxGradNorm: o.grad_clip,
      microBatches: o.micro_batches,
      microBatchWeights: counts.map((c) => c / Math.max(masked, 1)), // mean over every masked token of the step
    });
    for (const t of tensors) tf.dispose([t.inputs, t.targets, t.mask]);
    step++;
    trainMs += performance.now() - t0;
    tokens += o.batch_size * config.seq_len;
    emaLoss = Number.isNaN(emaLoss) ? result.loss : 0.9 * emaLoss + 0.1 * result.loss;

    const now = performance.now();
    if (now - lastProgress >= o.progress_seconds * 1000 || step === o.max_steps) {
      lastProgress = now;
      const tps = tokens / (trainMs / 1000);
      const eta = ((o.max_steps - step) * trainMs) / step / 1000;
      log(
        `step ${step}/${o.max_steps} loss ${result.loss.toFixed(4)} (avg ${emaLoss.toFixed(4)}) lr ${lr.toExponential(2)} grad-norm ${result.gradNorm.toFixed(3)} ` +
          `${tps.toFixed(0)} tok/s ${((tps * flops.train) / 1e9).toFixed(2)} GFLOP/s elapsed ${formatDuration((now - start) / 1000)} ETA ${formatDuration(eta)}`,
      );
    }
    if (step % o.eval_interval === 0 && step < o.max_steps) {
      const e = evaluate(model, data);
      history.push({ step, ...e });
      log(formatEval(step, e));
    }
  }
  const after = evaluate(model, data);
  if (history[history.length - 1]!.step !== step) history.push({ step, ...after });
  const seconds = (performance.now() - start) / 1000;
  const tokensPerSecond = trainMs > 0 ? tokens / (trainMs / 1000) : 0;
  log(formatEval(step, after));

  const summary = {
    tool: "tools/pretrain",
    options: o,
    backend: backend.backend,
    steps: step,
    stopped_by: stoppedBy,
    wall_seconds: Number(seconds.toFixed(1)),
    train_tokens_per_second: Number(tokensPerSecond.toFixed(1)),
    parameters: parameterCount(config),
    heldout_before: before,
    heldout_after: after,
    history,
    data: { task: task.name, describe: task.describe },
  };
  const out = o.out || task.files.generator;
  const digest = model.save(out, {
    metadata: {
      producer: "tools/pretrain",
      steps: String(step),
      heldout_loss: after.loss.toFixed(6),
      heldout_masked_accuracy: after.accuracy.toFixed(6),
      task: task.name,
    },
    extraFiles: { "pretrain.json": JSON.stringify(summary, null, 2) + "\n" },
  });
  log(`saved ${out} (weights sha256 ${digest}) after ${step} steps in ${formatDuration(seconds)}; ${tokensPerSecond.toFixed(0)} train tok/s`);
  optimizer.dispose();
  model.dispose();
  return { steps: step, seconds, tokensPerSecond, before, after, history, digest, out, stoppedBy };
}
