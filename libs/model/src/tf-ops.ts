// The op set of ops.ts on tfjs. Two choices are for tfjs-wasm speed and coverage (docs/engine.md):
// matMul has a custom gradient with explicit transposes (tfjs's own uses transposeA/B flags, which
// run 10-40× slower on wasm), and gatherElements is a one-hot multiply-and-sum (gather's gradient
// is not registered on wasm).
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's Node build registers no gradients; see gradients.ts.
import "./gradients.ts";
import type { Ops } from "./ops.ts";

function swapLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return tf.transpose(x, perm);
}

/** `a @ b` over the last two axes (equal leading axes); the backward runs plain matmuls of explicit transposes. */
const matMul: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor = tf.customGrad((...args: unknown[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, [as, bs]: tf.Tensor[]) => [tf.matMul(dy, swapLast(bs!)), tf.matMul(swapLast(as!), dy)],
  };
}) as never;

const GELU_C = Math.sqrt(2 / Math.PI);

/** float32 one-hot (wasm's OneHot ignores a float32 dtype argument: cast instead). */
const oneHot = (ids: tf.Tensor, depth: number) => tf.cast(tf.oneHot(tf.cast(ids, "int32"), depth), "float32");

export const tfOps: Ops<tf.Tensor> = {
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  div: (a, b) => tf.div(a, b),
  min: (a, b) => tf.minimum(a, b),
  neg: (x) => tf.neg(x),
  exp: (x) => tf.exp(x),
  sqrt: (x) => tf.sqrt(x),
  // maximum then minimum: ties send the gradient to x, so it passes on [lo, hi] as clipByValue's
  clip: (x, lo, hi) => tf.minimum(tf.maximum(x, lo), hi),
  less: (a, b) => tf.cast(tf.less(a, b), "float32"),
  matMul,
  matMulT: (a, b) => matMul(a, swapLast(b)),
  layerNorm(x, scale, bias, eps) {
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), scale), bias);
  },
  geluTanh(x) {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), GELU_C);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  },
  softmax: (x, axis = -1) => tf.softmax(x, axis),
  logSoftmax: (x, axis = -1) => tf.logSoftmax(x, axis),
  reshape: (x, shape) => tf.reshape(x, [...shape]),
  transpose: (x, perm) => tf.transpose(x, [...perm]),
  split: (x, axis, sizes) => tf.split(x, [...sizes], axis),
  slice(x, starts, ends, axes) {
    const begin = x.shape.map(() => 0);
    const size = [...x.shape];
    axes.forEach((a, i) => ((begin[a] = starts[i]!), (size[a] = ends[i]! - starts[i]!)));
    return tf.slice(x, begin, size);
  },
  reduceSum: (x, axes, keepdims) => tf.sum(x, [...axes], keepdims),
  reduceMean: (x, axes, keepdims) => tf.mean(x, [...axes], keepdims),
  oneHot,
  gather: (table, ids) => tf.gather(table, tf.cast(ids, "int32")),
  gatherElements(data, ids, axis) {
    if (axis !== data.rank - 1) throw new Error(`tfjs gatherElements picks along the last axis (${data.rank - 1}); got axis ${axis}`);
    return tf.sum(tf.mul(tf.expandDims(data, -2), oneHot(ids, data.shape[axis]!)), -1);
  },
  constant: (data, shape) => tf.tensor(data, [...shape]),
  tidy: (fn) => tf.tidy(fn as () => tf.Tensor | tf.Tensor[]) as never,
};
