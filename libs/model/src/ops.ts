// The op set the model, the GRPO loss and AdamW are written against (Keras's `keras.ops` idea):
// tfjs implements it in tf-ops.ts, the ONNX `Tape` of @grpomesh/onnx-export/autodiff implements it by
// emitting graph nodes with their backward rules. Signatures follow ONNX: axes are explicit,
// shapes static, a number operand is a float32 scalar.

export interface Ops<T> {
  add(a: T, b: T | number): T;
  sub(a: T | number, b: T | number): T;
  mul(a: T, b: T | number): T;
  div(a: T, b: T | number): T;
  /** Elementwise minimum; on a tie the gradient goes to `a`. */
  min(a: T, b: T): T;
  neg(x: T): T;
  exp(x: T): T;
  sqrt(x: T): T;
  /** clip(x, lo, hi) with scalar bounds; the gradient passes where lo ≤ x ≤ hi. */
  clip(x: T, lo: T | number, hi: T | number): T;
  /** a < b as 0/1 float32 (no gradient). */
  less(a: T, b: T): T;
  /** a @ b over the last two axes; leading axes equal or broadcast. */
  matMul(a: T, b: T): T;
  /** a @ bᵀ, bᵀ swapping b's last two axes. */
  matMulT(a: T, b: T): T;
  /** LayerNorm over the last axis, biased variance. */
  layerNorm(x: T, scale: T, bias: T, eps: number): T;
  /** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
  geluTanh(x: T): T;
  softmax(x: T, axis?: number): T;
  logSoftmax(x: T, axis?: number): T;
  reshape(x: T, shape: readonly number[]): T;
  transpose(x: T, perm: readonly number[]): T;
  split(x: T, axis: number, sizes: readonly number[]): T[];
  slice(x: T, starts: readonly number[], ends: readonly number[], axes: readonly number[]): T;
  reduceSum(x: T, axes: readonly number[], keepdims: boolean): T;
  reduceMean(x: T, axes: readonly number[], keepdims: boolean): T;
  /** float32 one-hot rows [..., depth] of integer ids (no gradient). */
  oneHot(ids: T, depth: number): T;
  /** Rows of `table` picked by integer ids (axis 0). */
  gather(table: T, ids: T): T;
  /** out[..., j] = data[..., ids[..., j]] along the last axis (`axis` = rank − 1). */
  gatherElements(data: T, ids: T, axis: number): T;
  constant(data: Float32Array, shape: readonly number[]): T;
  /** Frees intermediates of `fn` that it does not return (tfjs); graphs just run it. */
  tidy?<R extends T | T[]>(fn: () => R): R;
}
