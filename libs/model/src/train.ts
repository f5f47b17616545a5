// Training pieces shared by the pretrain tool and the GRPO policy service: AdamW with exportable
// state, global-norm clipping, the cosine schedule, the masked-LM loss, and a model-agnostic
// trainStep that accumulates gradients over micro-batches of any scalar loss.
import * as tf from "@tensorflow/tfjs-core";
import type { SafeTensor } from "./safetensors.ts";
import {
  adamwScalars,
  adamwUpdate,
  checkOptimizerState,
  clipScale,
  isDecayed,
  optimizerStateFromSafeTensors,
  optimizerStateToSafeTensors,
  type AdamWState,
} from "./optim-math.ts";
import { tfOps } from "./tf-ops.ts";

export { cosineLearningRate, isDecayed, type AdamWState, type CosineSchedule } from "./optim-math.ts";

// ---------------------------------------------------------------------------------------------
// AdamW

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Which parameters get weight decay; default `isDecayed` (linear-layer weight matrices only). */
  decay?: (name: string) => boolean;
}

/**
 * adamwUpdate (optim-math.ts) over tf.Variables, with its moments and step. Parameters without a
 * gradient in a step are left untouched (as PyTorch does for grad = None).
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly decay: (name: string) => boolean;
  private readonly m = new Map<string, tf.Tensor>();
  private readonly v = new Map<string, tf.Tensor>();
  /** Number of updates applied (t in the bias corrections). */
  step = 0;

  constructor(
    readonly variables: Map<string, tf.Variable>,
    options: AdamWOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.decay = options.decay ?? isDecayed;
    for (const [name, variable] of variables) {
      this.m.set(name, tf.zerosLike(variable));
      this.v.set(name, tf.zerosLike(variable));
    }
  }

  /** Applies one update with the given gradients (keyed like `variables`, each first multiplied by gradScale) and learning rate. */
  apply(grads: Map<string, tf.Tensor>, lr: number, gradScale = 1): void {
    for (const name of grads.keys()) if (!this.variables.has(name)) throw new Error(`AdamW got a gradient for "${name}", which is not one of its variables`);
    this.step += 1;
    const s = adamwScalars({ lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, gradScale }, this.step);
    for (const [name, variable] of this.variables) {
      const grad = grads.get(name);
      if (!grad) continue;
      const next = tf.tidy(() => adamwUpdate(tfOps, { p: variable, m: this.m.get(name)!, v: this.v.get(name)!, grad }, s, this.decay(name)));
      variable.assign(next.p);
      tf.dispose([next.p, this.m.get(name)!, this.v.get(name)!]);
      this.m.set(name, next.m);
      this.v.set(name, next.v);
    }
  }

  /** m, v (named `m.<param>`, `v.<param>`) and the step count, for checkpoints. */
  exportState(): AdamWState {
    const tensors = new Map<string, Float32Array>();
    for (const [name, t] of this.m) tensors.set(`m.${name}`, t.dataSync() as Float32Array);
    for (const [name, t] of this.v) tensors.set(`v.${name}`, t.dataSync() as Float32Array);
    return { step: this.step, tensors };
  }

  /** Restores a state from exportState; every moment must be present with the right size. */
  importState(state: AdamWState): void {
    checkOptimizerState(state, this.shapes());
    for (const [name, variable] of this.variables) {
      this.m.get(name)!.dispose();
      this.v.get(name)!.dispose();
      this.m.set(name, tf.tensor(state.tensors.get(`m.${name}`)!, variable.shape));
      this.v.set(name, tf.tensor(state.tensors.get(`v.${name}`)!, variable.shape));
    }
    this.step = state.step;
  }

  /** The state as safetensors entries (moments F32 in their parameter's shape, `step` as I64). */
  toSafeTensors(): Map<string, SafeTensor> {
    return optimizerStateToSafeTensors(this.exportState(), this.shapes());
  }

  /** Inverse of toSafeTensors. */
  loadSafeTensors(entries: Map<string, SafeTensor>): void {
    this.importState(optimizerStateFromSafeTensors(entries, this.shapes()));
  }

  private shapes(): Map<string, number[]> {
    return new Map([...this.variables].map(([name, v]) => [name, v.shape]));
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping

/**
 * Scales all gradients so their global L2 norm is at most maxNorm (PyTorch's clip_grad_norm_:
 * factor maxNorm / (norm + 1e-6), only when norm > maxNorm). Returns the norm BEFORE clipping.
 * The input tensors are disposed when replaced.
 */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  if (grads.size === 0) return { grads, norm: 0 };
  const normTensor = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))));
  const norm = normTensor.dataSync()[0]!;
  normTensor.dispose();
  const scale = clipScale(norm, maxNorm);
  if (scale === 1) return { grads, norm };
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) {
    out.set(name, tf.mul(g, scale));
    g.dispose();
  }
  return { grads: out, norm };
}

// ---------------------------------------------------------------------------------------------
// Masked-LM objective

/**
 * Mean cross-entropy over the positions where `lossMask` is 1 (the masked ones) only:
 * −Σ mask·log softmax(logits)[target] / max(Σ mask, 1). logits [B, T, V]; targets [B, T] int32
 * (the original tokens); lossMask [B, T] float32. Uses oneHot rather than gather (no gather
 * gradient on wasm).
 */
export function maskedLmLoss(logits: tf.Tensor, targets: tf.Tensor, lossMask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const V = logits.shape[logits.shape.length - 1]!;
    const logp = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.cast(targets, "int32"), V)), -1); // [B, T]
    const total = tf.sum(tf.mul(picked, lossMask));
    return tf.div(tf.neg(total), tf.maximum(tf.sum(lossMask), 1)) as tf.Scalar;
  });
}

/** Argmax hits and count over the positions where lossMask is 1. */
export function maskedTokenAccuracy(logits: tf.Tensor, targets: tf.Tensor, lossMask: tf.Tensor): { correct: number; total: number } {
  const [correct, total] = tf.tidy(() => {
    const hit = tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(targets, "int32")), "float32");
    return [tf.sum(tf.mul(hit, lossMask)), tf.sum(lossMask)];
  });
  const result = { correct: correct!.dataSync()[0]!, total: total!.dataSync()[0]! };
  correct!.dispose();
  total!.dispose();
  return result;
}

// ---------------------------------------------------------------------------------------------
// One optimisation step

export interface TrainStepOptions {
  optimizer: AdamW;
  learningRate: number;
  /** Global-norm clip; Infinity or 0 disables clipping (the norm is still reported). Default 1. */
  maxGradNorm?: number;
  /** Number of micro-batches: lossFn is called with 0 … n−1. Default 1. */
  microBatches?: number;
  /**
   * Weight of each micro-batch's loss in the step's loss (default 1/n each, right when every
   * micro-batch loss is a mean over equally many items). For a mean over unequal micro-batches
   * pass count_i / Σ count. The step's gradient is Σ weight_i ∇loss_i.
   */
  microBatchWeights?: number[];
}

export interface TrainStepResult {
  /** Σ weight_i · loss_i. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  learningRate: number;
}

/**
 * One AdamW step on the optimizer's variables. `lossFn(i)` builds micro-batch i's scalar loss from
 * the variables (it runs under a gradient tape); gradients are summed with weights across
 * micro-batches, clipped, applied, and every intermediate is disposed.
 */
export function trainStep(lossFn: (microBatch: number) => tf.Scalar, options: TrainStepOptions): TrainStepResult {
  const n = options.microBatches ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new Error(`microBatches must be a positive integer; got ${n}`);
  const weights = options.microBatchWeights ?? new Array<number>(n).fill(1 / n);
  if (weights.length !== n || weights.some((w) => !Number.isFinite(w)))
    throw new Error(`microBatchWeights must hold ${n} finite numbers; got ${JSON.stringify(weights)}`);
  const byTfName = new Map<string, string>();
  for (const [name, variable] of options.optimizer.variables) byTfName.set(variable.name, name);
  const varList = [...options.optimizer.variables.values()];

  const summed = new Map<string, tf.Tensor>();
  let loss = 0;
  try {
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      const { value, grads } = tf.variableGrads(() => lossFn(i), varList);
      const lossValue = value.dataSync()[0]!;
      value.dispose();
      if (!Number.isFinite(lossValue)) {
        for (const g of Object.values(grads)) g.dispose();
        throw new Error(`micro-batch ${i} gave a non-finite loss (${lossValue}); lower the learning rate or check the inputs. No update was applied.`);
      }
      loss += w * lossValue;
      for (const [tfName, g] of Object.entries(grads)) {
        const name = byTfName.get(tfName)!;
        const prev = summed.get(name);
        const next = tf.tidy(() => (prev ? tf.add(prev, tf.mul(g, w)) : tf.mul(g, w)));
        prev?.dispose();
        g.dispose();
        summed.set(name, next);
      }
    }
    const clipped = clipGradNorm(summed, options.maxGradNorm ?? 1);
    if (clipped.grads !== summed) {
      summed.clear(); // the originals were disposed by clipGradNorm
      for (const [name, g] of clipped.grads) summed.set(name, g);
    }
    options.optimizer.apply(summed, options.learningRate);
    return { loss, gradNorm: clipped.norm, learningRate: options.learningRate };
  } finally {
    for (const g of summed.values()) g.dispose();
  }
}
