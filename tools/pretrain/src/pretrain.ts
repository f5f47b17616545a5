// Pretrains the generator as a masked LM on the corpus' train split, evaluating on a fixed set of
// held-out batches, and writes a checkpoint folder (config.json + model.safetensors). Read it like
// nanoGPT's train.py: the settings grouped under headers (settings.ts), one flat loop.
import * as tf from "@tensorflow/tfjs-core";
import { checkValues } from "@grpomesh/config";
import { fixedEvalBatches, loadCorpus, MaskedBatchStream, type MaskedBatch, type MaskingSpec } from "@grpomesh/data";
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

function toTensors(batch: MaskedBatch): { inputs: tf.Tensor2D; targets: tf.Tensor2D; mask: tf.Tensor2D } {
  const shape: [number, number] = [batch.batchSize, batch.seqLen];
  return {
    inputs: tf.tensor2d(batch.inputs, shape, "int32"),
    targets: tf.tensor2d(batch.targets, shape, "int32"),
    mask: tf.tensor2d(Float32Array.from(batch.mask), shape, "float32"),
  };
}

/** Held-out loss (mean over all masked tokens of the set) and argmax accuracy. */
export function evaluate(model: MaskedTransformer, batches: MaskedBatch[]): EvalResult {
  let lossSum = 0;
  let correct = 0;
  let total = 0;
  for (const batch of batches) {
    const t = toTensors(batch);
    const logits = model.forward(t.inputs);
    const loss = maskedLmLoss(logits, t.targets, t.mask);
    const acc = maskedTokenAccuracy(logits, t.targets, t.mask);
    lossSum += loss.dataSync()[0]! * acc.total;
    correct += acc.correct;
    total += acc.total;
    tf.dispose([logits, loss, t.inputs, t.targets, t.mask]);
  }
  return { loss: lossSum / Math.max(total, 1), accuracy: correct / Math.max(total, 1), maskedTokens: total };
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export async function pretrain(o: PretrainConfig, log: (line: string) => void = (l) => console.log(l)): Promise<PretrainResult> {
  checkValues(PRETRAIN_SETTINGS, o, pretrainRelations);
  const backend = await initBackend(o.backend || undefined, { log });
  const corpus = o.corpus ? loadCorpus(o.corpus) : loadCorpus();
  const masking = JSON.parse(o.masking) as MaskingSpec;

  // model
  const config = defaultGeneratorConfig(corpus.vocab.tokens, {
    seq_len: o.seq_len,
    n_layer: o.n_layer,
    n_head: o.n_head,
    d_model: o.d_model,
    d_ff: o.d_ff,
    dropout: o.dropout,
  });
  const model = new MaskedTransformer(config, { seed: o.seed });
  if (o.local_init > 0) {
    const weights = model.getWeights();
    localAttentionInit(config, weights, o.local_init);
    model.setWeights(weights);
  }
  const optimizer = new AdamW(model.variables, { beta1: o.beta1, beta2: o.beta2, weightDecay: o.weight_decay });
  const flops = flopsPerToken(config);
  log(
    `model: ${parameterCount(config)} parameters (n_layer ${config.n_layer}, n_head ${config.n_head}, d_model ${config.d_model}, d_ff ${config.d_ff}, ` +
      `seq_len ${config.seq_len}, vocab ${config.vocab_size}); ${(flops.train / 1e6).toFixed(2)} MFLOP/token to train; backend ${backend.backend}`,
  );

  // data
  const micro = o.batch_size / o.micro_batches;
  const stream = new MaskedBatchStream({
    ids: corpus.train,
    seqLen: config.seq_len,
    batchSize: micro,
    seed: o.seed,
    masking,
    maskTokenId: config.mask_token_id,
  });
  const evalSet = fixedEvalBatches(corpus.heldout, {
    count: o.eval_batches,
    batchSize: o.eval_batch_size,
    seqLen: config.seq_len,
    seed: o.seed,
    masking,
    maskTokenId: config.mask_token_id,
  });
  log(
    `data: ${corpus.train.length} train / ${corpus.heldout.length} held-out characters (held out: ${corpus.meta.split.heldout_books.join(", ")}); eval on ${o.eval_batches}×${o.eval_batch_size} fixed held-out windows`,
  );

  const before = evaluate(model, evalSet);
  const history: PretrainResult["history"] = [{ step: 0, ...before }];
  log(`eval step 0: held-out loss ${before.loss.toFixed(4)}, masked accuracy ${(100 * before.accuracy).toFixed(2)}% (${before.maskedTokens} masked tokens)`);

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
    const batches = Array.from({ length: o.micro_batches }, () => stream.next());
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
      const e = evaluate(model, evalSet);
      history.push({ step, ...e });
      log(`eval step ${step}: held-out loss ${e.loss.toFixed(4)}, masked accuracy ${(100 * e.accuracy).toFixed(2)}%`);
    }
  }
  const after = evaluate(model, evalSet);
  if (history[history.length - 1]!.step !== step) history.push({ step, ...after });
  const seconds = (performance.now() - start) / 1000;
  const tokensPerSecond = trainMs > 0 ? tokens / (trainMs / 1000) : 0;
  log(`eval step ${step}: held-out loss ${after.loss.toFixed(4)}, masked accuracy ${(100 * after.accuracy).toFixed(2)}%`);

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
    data: {
      train_chars: corpus.train.length,
      heldout_chars: corpus.heldout.length,
      heldout_books: corpus.meta.split.heldout_books,
      corpus_sha256: corpus.meta.sha256,
    },
  };
  const digest = model.save(o.out, {
    metadata: {
      producer: "tools/pretrain",
      steps: String(step),
      heldout_loss: after.loss.toFixed(6),
      heldout_masked_accuracy: after.accuracy.toFixed(6),
      corpus_sha256: corpus.meta.sha256,
    },
    extraFiles: { "pretrain.json": JSON.stringify(summary, null, 2) + "\n" },
  });
  log(`saved ${o.out} (weights sha256 ${digest}) after ${step} steps in ${formatDuration(seconds)}; ${tokensPerSecond.toFixed(0)} train tok/s`);
  optimizer.dispose();
  model.dispose();
  return { steps: step, seconds, tokensPerSecond, before, after, history, digest, out: o.out, stoppedBy };
}
