// One ONNX graph that applies AdamW to every parameter: the arithmetic of libs/model's AdamW
// (decoupled weight decay on isDecayed parameters, bias corrections), op for op, in float32,
// after scaling the gradients by `grad_scale` (global-norm clipping's factor; 1 when not clipping).
// The trainer keeps all parameters in one flat buffer, decayed ones first, and feeds views of it.
import { Tape, type Value } from "./autodiff.ts";

/** Scalar inputs, each a float32 []. Factors like 1 − β1 are computed in JS (float64) as libs/model does. */
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
  "grad_scale",
] as const;

export type AdamWScalar = (typeof ADAMW_SCALARS)[number];

/**
 * Parameters are updated as two flat vectors, so the graph is a few ops over long arrays instead
 * of a dozen tiny ops per tensor: `decayed` (the isDecayed weights, laid out first) and `other`.
 */
export type AdamWGroup = "decayed" | "other";

export const adamwNames = (group: AdamWGroup) => ({
  param: `param.${group}`,
  m: `m.${group}`,
  v: `v.${group}`,
  grad: `grad.${group}`,
  newParam: `new_param.${group}`,
  newM: `new_m.${group}`,
  newV: `new_v.${group}`,
});

/**
 * Inputs `param.<g>`, `m.<g>`, `v.<g>`, `grad.<g>` (flat float32 vectors) for each group g with a
 * nonzero size, and ADAMW_SCALARS; outputs `new_param.<g>`, `new_m.<g>`, `new_v.<g>`:
 *   g ← g·grad_scale;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← (decayed ? p·(1−lr·wd) : p) − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)
 */
export function buildAdamWGraph(sizes: Readonly<Record<AdamWGroup, number>>): Uint8Array {
  const t = new Tape();
  const s = Object.fromEntries(ADAMW_SCALARS.map((name) => [name, t.input(name, "float32", [])])) as Record<AdamWScalar, Value>;
  for (const group of ["decayed", "other"] as const) {
    const size = sizes[group];
    if (!Number.isInteger(size) || size < 0) throw new Error(`AdamW group ${group} has size ${size}; expected an integer ≥ 0`);
    if (size === 0) continue;
    const n = adamwNames(group);
    const p = t.input(n.param, "float32", [size]);
    const m = t.input(n.m, "float32", [size]);
    const v = t.input(n.v, "float32", [size]);
    const g = t.mul(t.input(n.grad, "float32", [size]), s.grad_scale);
    const m2 = t.add(t.mul(m, s.beta1), t.mul(g, s.one_minus_beta1));
    const v2 = t.add(t.mul(v, s.beta2), t.mul(t.mul(g, g), s.one_minus_beta2));
    const update = t.div(t.div(m2, s.bias_correction1), t.add(t.sqrt(t.div(v2, s.bias_correction2)), s.eps));
    const kept = group === "decayed" ? t.mul(p, s.decay_factor) : p;
    t.output(t.sub(kept, t.mul(update, s.lr)), n.newParam);
    t.output(m2, n.newM);
    t.output(v2, n.newV);
  }
  return t.toModel("grpomesh_adamw");
}
