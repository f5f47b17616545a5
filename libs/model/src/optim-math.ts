// The optimizer, written once for every training engine (tfjs, onnxruntime): AdamW against the op
// set of ops.ts, the learning-rate schedule, which parameters are decayed, the state's layout.
import type { Ops } from "./ops.ts";
import type { SafeTensor } from "./safetensors.ts";

/** AdamW's scalars, each a float32 scalar in a graph. Factors like 1 − β1 are computed in JS (float64). */
export const ADAMW_SCALARS = [
  "lr",
  "beta1",
  "one_minus_beta1",
  "beta2",
  "one_minus_beta2",
  "eps",
  /** 1 − β1^t */
  "bias_correction1",
  /** 1 − β2^t */
  "bias_correction2",
  /** 1 − lr·weight_decay, applied to decayed parameters only */
  "decay_factor",
  /** multiplies every gradient first (global-norm clipping's factor) */
  "grad_scale",
] as const;

export type AdamWScalar = (typeof ADAMW_SCALARS)[number];

export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Default 1. */
  gradScale?: number;
}

/** The scalars of update number `step` (1 for the first). */
export function adamwScalars(o: AdamWSettings, step: number): Record<AdamWScalar, number> {
  return {
    lr: o.lr,
    beta1: o.beta1,
    one_minus_beta1: 1 - o.beta1,
    beta2: o.beta2,
    one_minus_beta2: 1 - o.beta2,
    eps: o.eps,
    bias_correction1: 1 - o.beta1 ** step,
    bias_correction2: 1 - o.beta2 ** step,
    decay_factor: 1 - o.lr * o.weightDecay,
    grad_scale: o.gradScale ?? 1,
  };
}

/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch's update), the same float32 ops
 * in the same order on every engine:
 *   g ← g·grad_scale;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← (decayed ? p·(1−lr·wd) : p) − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)
 */
export function adamwUpdate<X>(o: Ops<X>, x: { p: X; m: X; v: X; grad: X }, s: Record<AdamWScalar, X | number>, decayed: boolean): { p: X; m: X; v: X } {
  const g = o.mul(x.grad, s.grad_scale);
  const m = o.add(o.mul(x.m, s.beta1), o.mul(g, s.one_minus_beta1));
  const v = o.add(o.mul(x.v, s.beta2), o.mul(o.mul(g, g), s.one_minus_beta2));
  const update = o.div(o.div(m, s.bias_correction1), o.add(o.sqrt(o.div(v, s.bias_correction2)), s.eps));
  const kept = decayed ? o.mul(x.p, s.decay_factor) : x.p;
  return { p: o.sub(kept, o.mul(update, s.lr)), m, v };
}

export interface CosineSchedule {
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  warmupSteps: number;
  /** Step at which the rate reaches lr·minLrRatio and stays there. */
  maxSteps: number;
  minLrRatio: number;
}

/** Linear warm-up from lr/warmupSteps to lr, then cosine decay to lr·minLrRatio (steps from 0). */
export function cosineLearningRate(step: number, s: CosineSchedule): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  const minLr = s.lr * s.minLrRatio;
  if (step >= s.maxSteps) return minLr;
  const span = s.maxSteps - s.warmupSteps;
  if (span <= 0) return minLr;
  const progress = (step - s.warmupSteps) / span;
  return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (s.lr - minLr);
}

/**
 * Weight decay applies to the weight matrices of linear layers (attn.qkv, attn.out, mlp.fc,
 * mlp.proj, head, score). Biases, LayerNorm weights/biases and the token/position embeddings are
 * not decayed: shrinking them toward 0 changes what they mean rather than regularising.
 */
export function isDecayed(name: string): boolean {
  return /(^|\.)(qkv|out|fc|proj|head|score)\.weight$/.test(name);
}

/** AdamW state: the update count and `m.<param>` / `v.<param>` moments, flat. */
export interface AdamWState {
  step: number;
  tensors: Map<string, Float32Array>;
}

/** The state as `optimizer.safetensors` entries (moments F32 in their parameter's shape, `step` as I64). */
export function optimizerStateToSafeTensors(state: AdamWState, shapes: Map<string, number[]>): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [key, data] of state.tensors) {
    const shape = shapes.get(key.slice(2));
    if (!shape) throw new Error(`optimizer state "${key}" names no parameter of the model`);
    out.set(key, { dtype: "F32", shape, data });
  }
  out.set("step", { dtype: "I64", shape: [1], data: BigInt64Array.of(BigInt(state.step)) });
  return out;
}

/**
 * Inverse of optimizerStateToSafeTensors, checked against the parameter shapes: every `m.`/`v.`
 * moment present with its parameter's size, nothing else, and a non-negative step.
 */
export function optimizerStateFromSafeTensors(entries: Map<string, SafeTensor>, shapes: Map<string, number[]>): AdamWState {
  const stepEntry = entries.get("step");
  if (!stepEntry || stepEntry.dtype !== "I64" || stepEntry.data.length !== 1)
    throw new Error(`optimizer state needs a "step" tensor of dtype I64 and one element`);
  const tensors = new Map<string, Float32Array>();
  for (const [key, t] of entries) {
    if (key === "step") continue;
    if (t.dtype !== "F32") throw new Error(`optimizer state "${key}" is ${t.dtype}; expected F32`);
    tensors.set(key, t.data as Float32Array);
  }
  const state = { step: Number((stepEntry.data as BigInt64Array)[0]), tensors };
  checkOptimizerState(state, shapes);
  return state;
}

/** Throws unless `state` holds exactly one m and one v of the right size per parameter. */
export function checkOptimizerState(state: AdamWState, shapes: Map<string, number[]>): void {
  if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`AdamW state step must be a non-negative integer; got ${state.step}`);
  const problems: string[] = [];
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    for (const kind of ["m", "v"]) {
      const data = state.tensors.get(`${kind}.${name}`);
      if (!data) problems.push(`missing "${kind}.${name}"`);
      else if (data.length !== size) problems.push(`"${kind}.${name}" has ${data.length} values; expected ${size}`);
    }
  }
  for (const key of state.tensors.keys()) {
    if (!(key.startsWith("m.") || key.startsWith("v.")) || !shapes.has(key.slice(2))) problems.push(`unexpected "${key}"`);
  }
  if (problems.length) throw new Error(`optimizer state does not match the model's parameters:\n  - ${problems.join("\n  - ")}`);
}

/** Global L2 norm of a set of gradients, accumulated in float64. */
export function globalNorm(grads: Iterable<ArrayLike<number>>): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  return Math.sqrt(sum);
}

/**
 * PyTorch's clip_grad_norm_ factor: maxNorm / (norm + 1e-6) when norm > maxNorm, else 1 (and 1
 * when maxNorm is not a positive number: no clipping).
 */
export function clipScale(norm: number, maxNorm: number): number {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0) || norm <= maxNorm) return 1;
  return maxNorm / (norm + 1e-6);
}
