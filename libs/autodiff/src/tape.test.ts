// Every differentiable op of the tape against central finite differences, run by onnxruntime.
//
// Float32 throughout: step h = 1e-2 on inputs of size O(1), so truncation error (h²/6·f''' ≈ 2e-5)
// and rounding error (≈ 1e-7·|L|/h ≈ 1e-5 for these ~30-term losses) stay far below the bound
//   |analytic − FD| ≤ 2e-3 · max|FD| + 2e-4   (per element),
// while a wrong rule (missing term, wrong sign or factor, wrong broadcast axis) is off by O(max|g|).
// The loss is Σ y·R with a fixed random R, so every output element carries a distinct weight.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { Rng } from "@grpomesh/rng";
import { Tape, sizeOf, type TapeOptions, type Value } from "./tape.ts";

const H = 1e-2;
const REL_TOL = 2e-3;
const ABS_TOL = 2e-4;

interface InputSpec {
  shape: number[];
  /** Values; default uniform(−1, 1) from the test's seed. */
  data?: Float32Array;
  /** No gradient is checked for this input (it may still be differentiable). */
  constant?: boolean;
}

function uniform(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
}

interface GradCheck {
  /** Largest |analytic − FD| over all checked elements, and the scale it is judged against. */
  worst: number;
  scale: number;
  count: number;
}

/** Builds y = f(x…), loss = Σ y·R, and compares tape gradients with central differences. */
async function gradCheck(build: (t: Tape, xs: Value[]) => Value, specs: InputSpec[], seed = 1, options: TapeOptions = {}): Promise<GradCheck> {
  const rng = new Rng(seed);
  const data = specs.map((s) => s.data ?? uniform(rng, sizeOf(s.shape)));
  const t = new Tape(options);
  const xs = specs.map((s, i) => t.input(`x${i}`, "float32", s.shape));
  const y = build(t, xs);
  const r = t.constant(uniform(rng, sizeOf(y.shape), 0.5, 1.5), y.shape, "r");
  const loss = t.reduceSum(
    t.mul(y, r),
    y.shape.map((_, i) => i),
    false,
  );
  const checked = xs.filter((_, i) => !specs[i]!.constant);
  const grads = t.gradients(loss, checked);
  t.output(loss, "loss");
  grads.forEach((g, i) => t.output(g, `grad${i}`));
  const session = await ort.InferenceSession.create(t.toModel(), { graphOptimizationLevel: "all", intraOpNumThreads: 1 });
  try {
    const run = async (values: Float32Array[]) => {
      const feeds: Record<string, ort.Tensor> = {};
      values.forEach((v, i) => (feeds[`x${i}`] = new ort.Tensor("float32", v, specs[i]!.shape)));
      return session.run(feeds);
    };
    const base = await run(data);
    let worst = 0,
      scale = 0,
      count = 0;
    const pairs: Array<{ analytic: number; fd: number }> = [];
    let gi = 0;
    for (let i = 0; i < specs.length; i++) {
      if (specs[i]!.constant) continue;
      const analytic = base[`grad${gi++}`]!.data as Float32Array;
      for (let j = 0; j < data[i]!.length; j++) {
        const x0 = data[i]![j]!;
        const plus = data.map((d) => d.slice());
        const minus = data.map((d) => d.slice());
        plus[i]![j] = x0 + H;
        minus[i]![j] = x0 - H;
        const lp = ((await run(plus)).loss!.data as Float32Array)[0]!;
        const lm = ((await run(minus)).loss!.data as Float32Array)[0]!;
        // the float32 step actually taken, not the nominal 2h
        const fd = (lp - lm) / (plus[i]![j]! - minus[i]![j]!);
        pairs.push({ analytic: analytic[j]!, fd });
      }
    }
    for (const p of pairs) scale = Math.max(scale, Math.abs(p.fd));
    for (const p of pairs) {
      const err = Math.abs(p.analytic - p.fd);
      if (err > REL_TOL * scale + ABS_TOL) assert.fail(`analytic gradient ${p.analytic} vs finite difference ${p.fd} (scale ${scale})`);
      worst = Math.max(worst, err);
      count++;
    }
    assert.ok(scale > 1e-2, `the check is vacuous: largest gradient is ${scale}`);
    if (process.env.GRADCHECK_LOG) console.log(`gradcheck: ${count} elements, worst error ${worst.toExponential(2)}, scale ${scale.toFixed(3)}`);
    return { worst, scale, count };
  } finally {
    await session.release();
  }
}

const positive = (rng: Rng, n: number) => uniform(rng, n, 0.5, 2);

test("add, sub, mul, div with numpy broadcasting", async () => {
  const rng = new Rng(7);
  await gradCheck((t, [a, b]) => t.add(a!, b!), [{ shape: [2, 3, 4] }, { shape: [4] }]);
  await gradCheck((t, [a, b]) => t.sub(a!, b!), [{ shape: [2, 1, 4] }, { shape: [3, 1] }]);
  await gradCheck((t, [a, b]) => t.mul(a!, b!), [{ shape: [2, 3, 4] }, { shape: [2, 1, 4] }]);
  await gradCheck((t, [a, b]) => t.div(a!, b!), [{ shape: [3, 4] }, { shape: [3, 1], data: positive(rng, 3) }]);
  await gradCheck((t, [a]) => t.mul(t.add(a!, 2), 3), [{ shape: [5] }]);
});

test("neg, exp, tanh, sigmoid, sqrt", async () => {
  const rng = new Rng(8);
  await gradCheck((t, [a]) => t.neg(a!), [{ shape: [2, 3] }]);
  await gradCheck((t, [a]) => t.exp(a!), [{ shape: [2, 3] }]);
  await gradCheck((t, [a]) => t.tanh(a!), [{ shape: [2, 3] }]);
  await gradCheck((t, [a]) => t.sigmoid(a!), [{ shape: [2, 3] }]);
  await gradCheck((t, [a]) => t.sqrt(a!), [{ shape: [2, 3], data: positive(rng, 6) }]);
});

test("geluTanh: values of the tanh formula, gradient by finite differences", async () => {
  const xs = Float32Array.from({ length: 24 }, (_, i) => -3 + i * 0.26);
  const t = new Tape();
  t.output(t.geluTanh(t.input("x", "float32", [24])), "y");
  const s = await ort.InferenceSession.create(t.toModel());
  const y = (await s.run({ x: new ort.Tensor("float32", xs, [24]) })).y!.data as Float32Array;
  await s.release();
  xs.forEach((x, i) => {
    const want = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    assert.ok(Math.abs(y[i]! - want) <= 1e-6 * (1 + Math.abs(want)), `gelu(${x}) = ${y[i]}; expected ${want}`);
  });
  await gradCheck((t, [a]) => t.geluTanh(a!), [{ shape: [3, 8], data: Float32Array.from({ length: 24 }, (_, i) => -3 + i * 0.26) }]);
});

test("softmax and logSoftmax over the last and a middle axis", async () => {
  await gradCheck((t, [a]) => t.softmax(a!), [{ shape: [2, 3, 5] }]);
  await gradCheck((t, [a]) => t.softmax(a!, 1), [{ shape: [2, 3, 5] }]);
  await gradCheck((t, [a]) => t.logSoftmax(a!), [{ shape: [3, 6] }]);
});

test("logSoftmax composed of ReduceMax/Exp/ReduceSum/Log (for providers without LogSoftmax) equals the fused node", async () => {
  await gradCheck((t, [a]) => t.logSoftmax(a!), [{ shape: [3, 6] }], 1, { logSoftmax: "composed" });
  await gradCheck((t, [a]) => t.logSoftmax(a!, 1), [{ shape: [2, 5, 3] }], 2, { logSoftmax: "composed" });
  // large logits: the max is subtracted first, so nothing overflows
  const x = Float32Array.from({ length: 12 }, (_, i) => (i % 2 ? 300 : -200) + i);
  const out: Record<string, Float32Array> = {};
  for (const mode of ["fused", "composed"] as const) {
    const t = new Tape({ logSoftmax: mode });
    t.output(t.logSoftmax(t.input("x", "float32", [2, 6])), "y");
    assert.equal(
      t.graph.nodes.some((n) => n.opType === "LogSoftmax"),
      mode === "fused",
      `${mode}: LogSoftmax node present?`,
    );
    const session = await ort.InferenceSession.create(t.toModel());
    out[mode] = (await session.run({ x: new ort.Tensor("float32", x, [2, 6]) })).y!.data as Float32Array;
    await session.release();
  }
  for (let i = 0; i < x.length; i++)
    assert.ok(Math.abs(out.fused![i]! - out.composed![i]!) <= 1e-5 * (1 + Math.abs(out.fused![i]!)), `element ${i}: ${out.composed![i]} vs ${out.fused![i]}`);
  assert.ok(out.composed!.every(Number.isFinite));
});

test("layerNorm: input, scale and bias", async () => {
  const rng = new Rng(9);
  await gradCheck((t, [x, s, b]) => t.layerNorm(x!, s!, b!, 1e-5), [{ shape: [2, 3, 6] }, { shape: [6], data: uniform(rng, 6, 0.5, 1.5) }, { shape: [6] }]);
});

test("matMul: 2-D, batched, and a batch dim broadcast", async () => {
  await gradCheck((t, [a, b]) => t.matMul(a!, b!), [{ shape: [3, 4] }, { shape: [4, 5] }]);
  await gradCheck((t, [a, b]) => t.matMul(a!, b!), [{ shape: [2, 3, 3, 4] }, { shape: [2, 3, 4, 2] }]);
  await gradCheck((t, [a, b]) => t.matMul(a!, b!), [{ shape: [2, 3, 4] }, { shape: [1, 4, 2] }]);
  await gradCheck((t, [a, b]) => t.matMul(a!, b!), [{ shape: [2, 3, 4] }, { shape: [4, 2] }]);
});

test("matMulT (a @ bᵀ): 2-D, batched, and with b a transpose's output", async () => {
  await gradCheck((t, [a, b]) => t.matMulT(a!, b!), [{ shape: [3, 4] }, { shape: [5, 4] }]);
  await gradCheck((t, [a, b]) => t.matMulT(a!, b!), [{ shape: [2, 3, 4] }, { shape: [2, 2, 4] }]);
  await gradCheck((t, [a, b]) => t.matMulT(t.transpose(a!, [1, 0, 2]), t.transpose(b!, [1, 0, 2])), [{ shape: [3, 2, 4] }, { shape: [5, 2, 4] }]);
});

test("reshape, transpose, expand", async () => {
  await gradCheck((t, [a]) => t.mul(t.reshape(a!, [3, 4]), t.reshape(a!, [3, 4])), [{ shape: [2, 6] }]);
  await gradCheck((t, [a]) => t.transpose(a!, [2, 0, 1]), [{ shape: [2, 3, 4] }]);
  await gradCheck((t, [a]) => t.expand(a!, [2, 3, 4]), [{ shape: [3, 1] }]);
});

test("split (one piece unused), concat, slice", async () => {
  await gradCheck(
    (t, [a]) => {
      const [p, , r] = t.split(a!, 1, [1, 2, 3]);
      return t.mul(p!, t.reduceSum(r!, [1], true));
    },
    [{ shape: [2, 6] }],
  );
  await gradCheck((t, [a, b]) => t.concat([a!, t.exp(b!), a!], 0), [{ shape: [2, 3] }, { shape: [1, 3] }]);
  await gradCheck((t, [a]) => t.slice(a!, [1, 0], [3, 2], [0, 2]), [{ shape: [4, 2, 3] }]);
});

test("reduceSum and reduceMean, with and without keepdims", async () => {
  await gradCheck((t, [a]) => t.reduceSum(a!, [0, 2], false), [{ shape: [2, 3, 4] }]);
  await gradCheck((t, [a]) => t.mul(t.reduceSum(a!, [1], true), a!), [{ shape: [2, 3, 4] }]);
  await gradCheck((t, [a]) => t.reduceMean(a!, [2], false), [{ shape: [2, 3, 4] }]);
  await gradCheck((t, [a]) => t.mul(t.reduceMean(a!, [0, 1], true), a!), [{ shape: [2, 3, 4] }]);
});

test("min (also broadcast), where and clip away from their kinks", async () => {
  // Values on a grid 0.1 apart (so no two are within the FD step of each other) and off the bounds.
  const grid = (n: number, offset: number) => Float32Array.from({ length: n }, (_, i) => -1.05 + offset + ((i * 7) % n) * 0.1);
  await gradCheck(
    (t, [a, b]) => t.min(a!, b!),
    [
      { shape: [12], data: grid(12, 0) },
      { shape: [12], data: grid(12, 0.05).reverse() },
    ],
  );
  await gradCheck(
    (t, [a, b]) => t.min(a!, b!),
    [
      { shape: [3, 4], data: grid(12, 0) },
      { shape: [4], data: Float32Array.of(-0.52, 0.13, 0.38, -0.07) },
    ],
  );
  await gradCheck(
    (t, [a, b]) => t.where(t.compare("Less", a!, b!), t.mul(a!, 2), t.exp(b!)),
    [
      { shape: [12], data: grid(12, 0) },
      { shape: [12], data: grid(12, 0.05).reverse() },
    ],
  );
  await gradCheck((t, [a]) => t.clip(a!, -0.5, 0.42), [{ shape: [12], data: grid(12, 0.03) }]);
});

test("gatherElements and gather scatter-add repeated indices", async () => {
  const tape = (t: Tape, idx: number[], shape: number[]) => t.constant(BigInt64Array.from(idx.map(BigInt)), shape, "idx");
  await gradCheck((t, [a]) => t.gatherElements(a!, tape(t, [0, 2, 2, 1, 1, 1, 3, 0], [2, 4]), 1), [{ shape: [2, 4] }]);
  await gradCheck((t, [a]) => t.gatherElements(a!, tape(t, [1, 0, 1, 1, 1, 0], [3, 2]), 0), [{ shape: [2, 2] }]);
  await gradCheck((t, [a]) => t.gather(a!, tape(t, [3, 0, 3, 3, 1, 0], [2, 3])), [{ shape: [5, 2] }]);
});

test("fan-in sums every use; values off the path get no gradient (zeros)", async () => {
  // x is used three times; w is not used at all and gets zeros.
  const t = new Tape();
  const x = t.input("x", "float32", [3]);
  const w = t.input("w", "float32", [2]);
  const y = t.add(t.mul(x, x), t.exp(x));
  const unused = t.exp(w); // on no path to the loss
  void unused;
  const loss = t.reduceSum(y, [0], false);
  const [gx, gw] = t.gradients(loss, [x, w]);
  t.output(gx!, "gx");
  t.output(gw!, "gw");
  const s = await ort.InferenceSession.create(t.toModel());
  const xs = Float32Array.of(0.5, -1, 2);
  const out = await s.run({ x: new ort.Tensor("float32", xs, [3]), w: new ort.Tensor("float32", Float32Array.of(1, 2), [2]) });
  const g = out.gx!.data as Float32Array;
  xs.forEach((v, i) => assert.ok(Math.abs(g[i]! - (2 * v + Math.exp(v))) < 1e-5, `d/dx ${g[i]} vs ${2 * v + Math.exp(v)}`));
  assert.deepEqual([...(out.gw!.data as Float32Array)], [0, 0]);
  await s.release();
});

test("the FD check rejects a wrong rule", async () => {
  // x·x with a backward that forgets the factor 2: the checker must catch it.
  const wrongSquare = (t: Tape, x: Value) =>
    t.customGrad(
      "WrongSquare",
      [x],
      () => [t.mul(x, x)],
      ([dy]) => [t.mul(dy!, x)],
    )[0]!;
  await assert.rejects(
    gradCheck((t, [a]) => wrongSquare(t, a!), [{ shape: [2, 3] }]),
    /analytic gradient/,
  );
  const rightSquare = (t: Tape, x: Value) =>
    t.customGrad(
      "Square",
      [x],
      () => [t.mul(x, x)],
      ([dy]) => [t.mul(dy!, t.mul(x, 2))],
    )[0]!;
  await gradCheck((t, [a]) => rightSquare(t, a!), [{ shape: [2, 3] }]);
});

test("shape errors say what was wrong", () => {
  const t = new Tape();
  const a = t.input("a", "float32", [2, 3]);
  const b = t.input("b", "float32", [4, 5]);
  assert.throws(() => t.matMul(a, b), /inner sizes 3 and 4 differ/);
  assert.throws(() => t.add(a, b), /do not broadcast/);
  assert.throws(() => t.reshape(a, [4, 2]), /cannot reshape \[2, 3\]/);
  assert.throws(() => t.gradients(a, [a]), /float32 scalar/);
});
