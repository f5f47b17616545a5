// A small reverse-mode differentiator over ONNX graphs with static shapes. Each op method emits
// standard opset-17 nodes (no com.microsoft domain, so the graph also runs under CUDA) and records
// a backward rule; `gradients(loss, params)` walks the records backwards and emits the backward
// pass as more ONNX nodes in the same graph. Every value knows its dtype and shape, so shapes are
// checked here, in JS, when the graph is built — not by onnxruntime at run time. It implements the
// op set of @grpomesh/model/forward, so the transformer, the GRPO loss and AdamW become graphs.
import type { Ops } from "@grpomesh/model/forward";
import { GraphBuilder, TensorProto_DataType, float, valueInfo } from "./graph.ts";
import type { AttrValue, Dim, ModelOptions } from "./graph.ts";
import type { NodeProto } from "onnx-buf";

export type DType = "float32" | "int64" | "bool";

/** A tensor of the graph being built: its ONNX value name, element type and static shape. */
export interface Value {
  readonly id: number;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** Emits input gradients from output gradients; `needs[i]` says whether input i wants one. */
export type Backward = (dOut: ReadonlyArray<Value | null>, needs: readonly boolean[]) => ReadonlyArray<Value | null>;

interface OpRecord {
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly backward: Backward;
}

type Operand = Value | number;

const ELEM_TYPE: Record<DType, TensorProto_DataType> = {
  float32: TensorProto_DataType.FLOAT,
  int64: TensorProto_DataType.INT64,
  bool: TensorProto_DataType.BOOL,
};

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/** numpy broadcasting of two static shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[], what = "operands"): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${what} of shapes ${fmt(a)} and ${fmt(b)} do not broadcast (axis ${i}: ${da} vs ${db})`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${what}: axis ${axis} is outside a rank-${rank} tensor`);
  return a;
}

/** How some ops are written into the graph; the numbers are the same either way. */
export interface TapeOptions {
  /**
   * "fused" (default): one LogSoftmax node. "composed": x − max − log Σ exp(x − max) from ReduceMax,
   * Sub, Exp, ReduceSum and Log, for execution providers without a LogSoftmax kernel (onnxruntime's
   * WebGPU provider would run a fused one on the CPU). The backward pass is LogSoftmax's either way.
   */
  logSoftmax?: "fused" | "composed";
}

/**
 * Builds one ONNX graph and its gradient. Values are created by the op methods; the graph's
 * inputs by `input`, its outputs by `output`; `toModel()` serializes it.
 */
export class Tape implements Ops<Value> {
  readonly graph = new GraphBuilder();
  constructor(private readonly options: TapeOptions = {}) {}
  private readonly records: OpRecord[] = [];
  private nextId = 0;
  /** Off while a backward pass is emitted: backward nodes need no second derivative. */
  private recording = true;
  private readonly scalars = new Map<number, Value>();
  private readonly intLists = new Map<string, Value>();
  /** Node producing each value (by current name), and values renamed to a graph output's name. */
  private readonly producers = new Map<string, NodeProto>();
  private readonly renamed = new Map<string, string>();
  private readonly outputNames = new Set<string>();

  // -------------------------------------------------------------------------------------------
  // Graph inputs, outputs and constants

  /** `dims` declares other dims than `shape` in the graph's signature (a symbolic batch, see reshape). */
  input(name: string, dtype: DType, shape: readonly number[], dims: Dim[] = [...shape]): Value {
    this.graph.input(name, ELEM_TYPE[dtype], dims);
    return this.named(name, dtype, shape);
  }

  /**
   * Declares `value` a graph output called `name`. A node's output is renamed in place (an
   * Identity would copy the tensor on every run); inputs, initializers and values already output
   * go through an Identity.
   */
  output(value: Value, name: string, dims: Dim[] = [...value.shape]): void {
    const current = this.renamed.get(value.name) ?? value.name;
    const producer = this.producers.get(current);
    if (!producer || this.outputNames.has(current) || this.outputNames.has(name)) {
      if (this.outputNames.has(name)) throw new Error(`graph output "${name}" is declared twice; pick another name`);
      this.graph.output(current, name, ELEM_TYPE[value.dtype], dims);
    } else {
      producer.output = producer.output.map((o) => (o === current ? name : o));
      for (const node of this.graph.nodes) node.input = node.input.map((i) => (i === current ? name : i));
      this.producers.delete(current);
      this.producers.set(name, producer);
      this.renamed.set(value.name, name);
      this.graph.outputs.push(valueInfo(name, ELEM_TYPE[value.dtype], dims));
    }
    this.outputNames.add(name);
  }

  /** An initializer holding `data` (float32 or int64). */
  constant(data: Float32Array | BigInt64Array, shape: readonly number[], hint = "const"): Value {
    if (data.length !== sizeOf(shape)) throw new Error(`constant ${hint} has ${data.length} values; shape ${fmt(shape)} needs ${sizeOf(shape)}`);
    const v = this.fresh(data instanceof Float32Array ? "float32" : "int64", shape, hint);
    this.graph.initializer(v.name, [...shape], data);
    return v;
  }

  /** An initializer with a chosen name (e.g. a weight baked into an inference graph). */
  namedConstant(name: string, data: Float32Array, shape: readonly number[]): Value {
    if (data.length !== sizeOf(shape)) throw new Error(`constant ${name} has ${data.length} values; shape ${fmt(shape)} needs ${sizeOf(shape)}`);
    this.graph.initializer(name, [...shape], data);
    return this.named(name, "float32", shape);
  }

  /** A float32 scalar constant (shape []), shared between uses. */
  scalar(x: number): Value {
    let v = this.scalars.get(x);
    if (!v) {
      v = this.constant(Float32Array.of(x), [], "scalar");
      this.scalars.set(x, v);
    }
    return v;
  }

  /** A 1-D int64 constant (shapes, axes, pads), shared between uses. */
  ints(values: readonly number[]): Value {
    const key = values.join(",");
    let v = this.intLists.get(key);
    if (!v) {
      v = this.constant(BigInt64Array.from(values.map(BigInt)), [values.length], "ints");
      this.intLists.set(key, v);
    }
    return v;
  }

  /** float32 zeros of `shape`, made at run time (no initializer of that size in the model). */
  zeros(shape: readonly number[]): Value {
    return this.emit("ConstantOfShape", [this.ints(shape)], [{ dtype: "float32", shape }])[0]!;
  }

  /** Serializes the graph as an opset-17 ModelProto. */
  toModel(opts: ModelOptions = {}): Uint8Array {
    return this.graph.toModel({ graphName: "grpomesh_train", docString: "built by @grpomesh/autodiff", ...opts });
  }

  // -------------------------------------------------------------------------------------------
  // Elementwise ops (numpy broadcasting)

  add(a: Operand, b: Operand): Value {
    return this.binary("Add", a, b, (dy, [x, y], needs) => [needs[0] ? this.sumTo(dy, x.shape) : null, needs[1] ? this.sumTo(dy, y.shape) : null]);
  }

  sub(a: Operand, b: Operand): Value {
    return this.binary("Sub", a, b, (dy, [x, y], needs) => [needs[0] ? this.sumTo(dy, x.shape) : null, needs[1] ? this.sumTo(this.neg(dy), y.shape) : null]);
  }

  mul(a: Operand, b: Operand): Value {
    return this.binary("Mul", a, b, (dy, [x, y], needs) => [
      needs[0] ? this.sumTo(this.mul(dy, y), x.shape) : null,
      needs[1] ? this.sumTo(this.mul(dy, x), y.shape) : null,
    ]);
  }

  div(a: Operand, b: Operand): Value {
    return this.binary("Div", a, b, (dy, [x, y], needs, out) => [
      needs[0] ? this.sumTo(this.div(dy, y), x.shape) : null,
      needs[1] ? this.sumTo(this.neg(this.div(this.mul(dy, out), y)), y.shape) : null,
    ]);
  }

  /** Elementwise minimum; on a tie the gradient goes to `a` (as tf.minimum). */
  min(a: Operand, b: Operand): Value {
    return this.binary("Min", a, b, (dy, [x, y], needs) => this.selectGrad(dy, this.compare("LessOrEqual", x, y), x, y, needs));
  }

  neg(x: Value): Value {
    return this.unary("Neg", x, (dy) => this.neg(dy));
  }

  exp(x: Value): Value {
    return this.unary("Exp", x, (dy, y) => this.mul(dy, y));
  }

  tanh(x: Value): Value {
    return this.unary("Tanh", x, (dy, y) => this.mul(dy, this.sub(1, this.mul(y, y))));
  }

  sqrt(x: Value): Value {
    return this.unary("Sqrt", x, (dy, y) => this.div(this.mul(dy, 0.5), y));
  }

  /** clip(x, lo, hi); the gradient passes where lo ≤ x ≤ hi (bounds included, as tf.clipByValue). */
  clip(x: Value, lo: Operand, hi: Operand): Value {
    const l = this.operand(lo),
      h = this.operand(hi);
    if (l.shape.length || h.shape.length) throw new Error(`clip bounds must be scalars; got ${fmt(l.shape)} and ${fmt(h.shape)}`);
    return this.emit("Clip", [x, l, h], [{ dtype: "float32", shape: x.shape }], {}, ([dy], needs) => {
      if (!needs[0]) return [null, null, null];
      const inside = this.emit("And", [this.compare("GreaterOrEqual", x, l), this.compare("LessOrEqual", x, h)], [{ dtype: "bool", shape: x.shape }])[0]!;
      return [this.where(inside, dy!, this.scalar(0)), null, null];
    })[0]!;
  }

  /** cond ? a : b, broadcast. */
  where(cond: Value, a: Operand, b: Operand): Value {
    const x = this.operand(a),
      y = this.operand(b);
    if (cond.dtype !== "bool") throw new Error(`where: condition has dtype ${cond.dtype}; expected bool`);
    const shape = broadcastShapes(cond.shape, broadcastShapes(x.shape, y.shape, "where"), "where");
    return this.emit("Where", [cond, x, y], [{ dtype: "float32", shape }], {}, ([dy], needs) => {
      const [ga, gb] = this.selectGrad(dy!, cond, x, y, [needs[1]!, needs[2]!]);
      return [null, ga, gb];
    })[0]!;
  }

  /** Comparison (Less, LessOrEqual, Greater, GreaterOrEqual, Equal) → bool; no gradient. */
  compare(op: "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "Equal", a: Operand, b: Operand): Value {
    const x = this.operand(a),
      y = this.operand(b);
    return this.emit(op, [x, y], [{ dtype: "bool", shape: broadcastShapes(x.shape, y.shape, op) }])[0]!;
  }

  /** float32 one-hot rows [..., depth] of int64 ids (no gradient). */
  oneHot(ids: Value, depth: number): Value {
    if (ids.dtype !== "int64") throw new Error(`oneHot: ids have dtype ${ids.dtype}; expected int64`);
    const values = this.constant(Float32Array.of(0, 1), [2], "onehot_values");
    return this.emit("OneHot", [ids, this.ints([depth]), values], [{ dtype: "float32", shape: [...ids.shape, depth] }], { axis: -1 })[0]!;
  }

  /** a < b as 0/1 float32 (no gradient). */
  less(a: Value, b: Value): Value {
    return this.cast(this.compare("Less", a, b), "float32");
  }

  /** Cast (no gradient: used for masks and counts). */
  cast(x: Value, to: DType): Value {
    return this.emit("Cast", [x], [{ dtype: to, shape: x.shape }], { to: ELEM_TYPE[to] })[0]!;
  }

  sigmoid(x: Value): Value {
    return this.unary("Sigmoid", x, (dy, y) => this.mul(dy, this.mul(y, this.sub(1, y))));
  }

  /**
   * gelu_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), written as x·σ(z) with
   * z = x·(2c + 2ck·x²) (0.5·(1 + tanh u) = σ(2u)): 6 elementwise ops forward and 7 backward
   * instead of 9 + 9 (memory-bound passes over [B·T, d_ff]).
   */
  geluTanh(x: Value): Value {
    const C = Math.sqrt(2 / Math.PI),
      K = 0.044715;
    let x2!: Value, s!: Value, y!: Value;
    this.customGrad(
      "GeluTanh",
      [x],
      () => {
        x2 = this.mul(x, x);
        s = this.sigmoid(this.mul(x, this.add(this.mul(x2, 2 * C * K), 2 * C)));
        y = this.mul(x, s);
        return [y];
      },
      ([dy]) => {
        // d/dx [x·σ(z)] = σ + x·σ·(1−σ)·dz/dx = σ + y·(1−σ)·(2c + 6ck·x²)
        const d = this.add(this.mul(this.mul(y, this.sub(1, s)), this.add(this.mul(x2, 6 * C * K), 2 * C)), s);
        return [this.mul(dy!, d)];
      },
    );
    return y;
  }

  // -------------------------------------------------------------------------------------------
  // Linear algebra and normalisation

  /** a @ b: 2-D, or batched with equal (or broadcast) leading dims. */
  matMul(a: Value, b: Value): Value {
    if (a.shape.length < 2 || b.shape.length < 2) throw new Error(`matMul needs rank ≥ 2 operands; got ${fmt(a.shape)} and ${fmt(b.shape)}`);
    const [m, k1] = a.shape.slice(-2) as [number, number];
    const [k2, n] = b.shape.slice(-2) as [number, number];
    if (k1 !== k2) throw new Error(`matMul of ${fmt(a.shape)} @ ${fmt(b.shape)}: inner sizes ${k1} and ${k2} differ`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "matMul batch dims");
    return this.emit("MatMul", [a, b], [{ dtype: "float32", shape: [...batch, m, n] }], {}, ([dy], needs) => [
      // Transposes sit right next to their MatMul so onnxruntime can fuse them (FusedMatMul).
      needs[0] ? this.sumTo(this.matMul(dy!, this.swapLast(b)), a.shape) : null,
      needs[1] ? this.sumTo(this.matMul(this.swapLast(a), dy!), b.shape) : null,
    ])[0]!;
  }

  /**
   * a @ bᵀ (bᵀ swaps b's last two axes), emitted as MatMul(a, Transpose(b)) so onnxruntime fuses
   * the transpose. Its backward needs no transposed copy either: da = dy @ b, db = dyᵀ @ a.
   * (Through matMul(a, transpose(b)) the gradient of b would be (aᵀ @ dy)ᵀ: two materialised
   * transposes when b is itself a transpose's output, as attention heads are.)
   */
  matMulT(a: Value, b: Value): Value {
    if (b.shape.length < 2) throw new Error(`matMulT needs rank ≥ 2 operands; got ${fmt(a.shape)} and ${fmt(b.shape)}`);
    return this.customGrad(
      "MatMulT",
      [a, b],
      () => [this.matMul(a, this.swapLast(b))],
      ([dy], needs) => [needs[0] ? this.sumTo(this.matMul(dy!, b), a.shape) : null, needs[1] ? this.sumTo(this.matMul(this.swapLast(dy!), a), b.shape) : null],
    )[0]!;
  }

  /**
   * LayerNormalization over the last axis (the fused op, biased variance). Backward from its Mean
   * and InvStdDev outputs: dx = inv·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·scale.
   */
  layerNorm(x: Value, scale: Value, bias: Value, eps: number): Value {
    const D = x.shape[x.shape.length - 1]!;
    if (!sameShape(scale.shape, [D]) || !sameShape(bias.shape, [D])) {
      throw new Error(`layerNorm of ${fmt(x.shape)} needs scale and bias of shape [${D}]; got ${fmt(scale.shape)} and ${fmt(bias.shape)}`);
    }
    const stat = [...x.shape.slice(0, -1), 1];
    const [y, mean, inv] = this.emit(
      "LayerNormalization",
      [x, scale, bias],
      [
        { dtype: "float32", shape: x.shape },
        { dtype: "float32", shape: stat },
        { dtype: "float32", shape: stat },
      ],
      { axis: -1, epsilon: float(eps) },
      ([dy, dMean, dInv], needs) => {
        if (dMean || dInv) throw new Error("layerNorm: gradients through Mean/InvStdDev outputs are not supported; use the normalized output only");
        const xhat = this.mul(this.sub(x, mean!), inv!);
        const lead = x.shape.map((_, i) => i).slice(0, -1);
        const dScale = needs[1] ? this.reduceSum(this.mul(dy!, xhat), lead, false) : null;
        const dBias = needs[2] ? this.reduceSum(dy!, lead, false) : null;
        let dx: Value | null = null;
        if (needs[0]) {
          const g = this.mul(dy!, scale);
          const last = [x.shape.length - 1];
          const inner = this.sub(this.sub(g, this.reduceMean(g, last, true)), this.mul(xhat, this.reduceMean(this.mul(g, xhat), last, true)));
          dx = this.mul(inner, inv!);
        }
        return [dx, dScale, dBias];
      },
    );
    return y!;
  }

  softmax(x: Value, axis = -1): Value {
    const a = normAxis(axis, x.shape.length, "softmax");
    return this.unary("Softmax", x, (dy, y) => this.mul(y, this.sub(dy, this.reduceSum(this.mul(dy, y), [a], true))), { axis: a });
  }

  logSoftmax(x: Value, axis = -1): Value {
    const a = normAxis(axis, x.shape.length, "logSoftmax");
    const grad = (dy: Value, y: Value) => this.sub(dy, this.mul(this.exp(y), this.reduceSum(dy, [a], true)));
    if (this.options.logSoftmax !== "composed") return this.unary("LogSoftmax", x, grad, { axis: a });
    if (x.dtype !== "float32") throw new Error(`LogSoftmax needs a float32 input; got ${x.dtype}`);
    const keep = x.shape.map((d, i) => (i === a ? 1 : d));
    const [y] = this.customGrad(
      "LogSoftmax",
      [x],
      () => {
        // opset 17: ReduceMax takes axes as an attribute
        const max = this.emit("ReduceMax", [x], [{ dtype: "float32", shape: keep }], { axes: [a], keepdims: 1 })[0]!;
        const shifted = this.sub(x, max);
        const logSum = this.emit("Log", [this.reduceSum(this.exp(shifted), [a], true)], [{ dtype: "float32", shape: keep }])[0]!;
        return [this.sub(shifted, logSum)];
      },
      ([dy]) => [grad(dy!, y!)],
    );
    return y!;
  }

  // -------------------------------------------------------------------------------------------
  // Shape ops

  /**
   * The node's target says −1 for the first axis: the same shape here, and a graph whose leading
   * (batch) axis may be declared symbolic (`input`'s dims) runs at any batch size.
   */
  reshape(x: Value, shape: readonly number[]): Value {
    if (shape.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`reshape target ${fmt(shape)} must list every size (static shapes; no -1 or 0)`);
    if (sizeOf(shape) !== sizeOf(x.shape)) throw new Error(`cannot reshape ${fmt(x.shape)} (${sizeOf(x.shape)} values) to ${fmt(shape)}`);
    if (sameShape(shape, x.shape)) return x;
    const target = this.ints(shape.map((d, i) => (i === 0 ? -1 : d)));
    return this.emit("Reshape", [x, target], [{ dtype: x.dtype, shape }], {}, ([dy]) => [this.reshape(dy!, x.shape), null])[0]!;
  }

  transpose(x: Value, perm: readonly number[]): Value {
    if (perm.length !== x.shape.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      throw new Error(`transpose perm [${perm.join(", ")}] is not a permutation of the axes of ${fmt(x.shape)}`);
    }
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return this.emit("Transpose", [x], [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }], { perm: [...perm] }, ([dy]) => [
      this.transpose(dy!, inverse),
    ])[0]!;
  }

  /** Splits along `axis` into pieces of the given sizes; backward concatenates (zeros for unused pieces). */
  split(x: Value, axis: number, sizes: readonly number[]): Value[] {
    const a = normAxis(axis, x.shape.length, "split");
    if (sizes.reduce((s, n) => s + n, 0) !== x.shape[a]) throw new Error(`split sizes [${sizes.join(", ")}] do not add up to axis ${a} of ${fmt(x.shape)}`);
    const outs = sizes.map((n) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === a ? n : d)) }));
    return this.emit("Split", [x, this.ints(sizes)], outs, { axis: a }, (dOut, needs) => {
      if (!needs[0]) return [null, null];
      const parts = dOut.map((d, i) => d ?? this.zeros(outs[i]!.shape));
      return [this.concat(parts, a), null];
    });
  }

  concat(xs: readonly Value[], axis: number): Value {
    const a = normAxis(axis, xs[0]!.shape.length, "concat");
    const shape = [...xs[0]!.shape];
    shape[a] = 0;
    for (const x of xs) {
      if (x.shape.length !== shape.length || x.shape.some((d, i) => i !== a && d !== shape[i]))
        throw new Error(`concat: ${fmt(x.shape)} does not match ${fmt(xs[0]!.shape)} off axis ${a}`);
      shape[a] += x.shape[a]!;
    }
    if (xs.length === 1) return xs[0]!;
    return this.emit("Concat", [...xs], [{ dtype: xs[0]!.dtype, shape }], { axis: a }, ([dy], needs) => {
      const parts = this.split(
        dy!,
        a,
        xs.map((x) => x.shape[a]!),
      );
      return parts.map((p, i) => (needs[i] ? p : null));
    })[0]!;
  }

  /** x[starts:ends] along `axes` (step 1); backward pads with zeros. */
  slice(x: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[]): Value {
    const shape = [...x.shape];
    const begin = x.shape.map(() => 0);
    const end = [...x.shape];
    axes.forEach((axis, i) => {
      const a = normAxis(axis, x.shape.length, "slice");
      const s = starts[i]!,
        e = ends[i]!;
      if (!(Number.isInteger(s) && Number.isInteger(e) && 0 <= s && s < e && e <= x.shape[a]!))
        throw new Error(`slice [${s}, ${e}) is outside axis ${a} of ${fmt(x.shape)}`);
      shape[a] = e - s;
      begin[a] = s;
      end[a] = e;
    });
    if (sameShape(shape, x.shape)) return x;
    return this.emit("Slice", [x, this.ints(starts), this.ints(ends), this.ints(axes)], [{ dtype: x.dtype, shape }], {}, ([dy]) => {
      const pads = [...begin, ...x.shape.map((d, i) => d - end[i]!)];
      return [this.emit("Pad", [dy!, this.ints(pads)], [{ dtype: "float32", shape: x.shape }], { mode: "constant" })[0]!, null, null, null];
    })[0]!;
  }

  /** Broadcasts x to `shape` (materialised). */
  expand(x: Value, shape: readonly number[]): Value {
    const out = broadcastShapes(x.shape, shape, "expand");
    if (!sameShape(out, shape)) throw new Error(`cannot expand ${fmt(x.shape)} to ${fmt(shape)}`);
    if (sameShape(x.shape, shape)) return x;
    return this.emit("Expand", [x, this.ints(shape)], [{ dtype: x.dtype, shape }], {}, ([dy]) => [this.sumTo(dy!, x.shape), null])[0]!;
  }

  // -------------------------------------------------------------------------------------------
  // Reductions and indexing

  reduceSum(x: Value, axes: readonly number[], keepdims: boolean): Value {
    const ax = [...new Set(axes.map((a) => normAxis(a, x.shape.length, "reduceSum")))].sort((p, q) => p - q);
    const keep = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const shape = keepdims ? keep : x.shape.filter((_, i) => !ax.includes(i));
    if (ax.length === 0) return x;
    return this.emit("ReduceSum", [x, this.ints(ax)], [{ dtype: "float32", shape }], { keepdims: keepdims ? 1 : 0 }, ([dy]) => [
      this.expand(this.reshape(dy!, keep), x.shape),
      null,
    ])[0]!;
  }

  reduceMean(x: Value, axes: readonly number[], keepdims: boolean): Value {
    const ax = [...new Set(axes.map((a) => normAxis(a, x.shape.length, "reduceMean")))].sort((p, q) => p - q);
    const keep = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const shape = keepdims ? keep : x.shape.filter((_, i) => !ax.includes(i));
    const n = ax.reduce((s, a) => s * x.shape[a]!, 1);
    if (ax.length === 0) return x;
    // opset 17: ReduceMean takes axes as an attribute (ReduceSum as an input since opset 13)
    return this.emit("ReduceMean", [x], [{ dtype: "float32", shape }], { axes: ax, keepdims: keepdims ? 1 : 0 }, ([dy]) => [
      this.expand(this.mul(this.reshape(dy!, keep), 1 / n), x.shape),
    ])[0]!;
  }

  /** out[..., i, ...] = data[..., indices[..., i, ...], ...] along `axis`; backward scatter-adds. */
  gatherElements(data: Value, indices: Value, axis: number): Value {
    const a = normAxis(axis, data.shape.length, "gatherElements");
    if (indices.dtype !== "int64" || indices.shape.length !== data.shape.length || indices.shape.some((d, i) => i !== a && d !== data.shape[i])) {
      throw new Error(`gatherElements: indices ${indices.dtype} ${fmt(indices.shape)} must be int64 and match data ${fmt(data.shape)} off axis ${a}`);
    }
    return this.emit("GatherElements", [data, indices], [{ dtype: data.dtype, shape: indices.shape }], { axis: a }, ([dy]) => [
      this.emit("ScatterElements", [this.zeros(data.shape), indices, dy!], [{ dtype: "float32", shape: data.shape }], { axis: a, reduction: "add" })[0]!,
      null,
    ])[0]!;
  }

  /** Rows of `table` [N, ...] picked by int64 `indices` (Gather, axis 0); backward scatter-adds rows. */
  gather(table: Value, indices: Value): Value {
    if (indices.dtype !== "int64") throw new Error(`gather: indices have dtype ${indices.dtype}; expected int64`);
    const shape = [...indices.shape, ...table.shape.slice(1)];
    return this.emit("Gather", [table, indices], [{ dtype: table.dtype, shape }], { axis: 0 }, ([dy]) => {
      const idx = this.reshape(indices, [...indices.shape, 1]);
      return [this.emit("ScatterND", [this.zeros(table.shape), idx, dy!], [{ dtype: "float32", shape: table.shape }], { reduction: "add" })[0]!, null];
    })[0]!;
  }

  // -------------------------------------------------------------------------------------------
  // The backward pass

  /**
   * Emits d loss / d p for each p of `params` (a value of the same shape; zeros for a parameter
   * the loss does not depend on). Fan-in is summed with Add; ops off every path from a parameter
   * to the loss get no backward nodes.
   */
  gradients(loss: Value, params: readonly Value[]): Value[] {
    if (loss.dtype !== "float32" || loss.shape.length !== 0)
      throw new Error(`gradients: the loss must be a float32 scalar; got ${loss.dtype} ${fmt(loss.shape)}`);
    const live = new Set(params.map((p) => p.id));
    for (const r of this.records) {
      if (r.inputs.some((x) => live.has(x.id))) for (const o of r.outputs) if (o.dtype === "float32") live.add(o.id);
    }
    const contributions = new Map<number, Value[]>();
    const sumOf = (v: Value): Value | null => {
      const parts = contributions.get(v.id);
      if (!parts?.length) return null;
      let s = parts[0]!;
      for (let i = 1; i < parts.length; i++) s = this.add(s, parts[i]!);
      contributions.set(v.id, [s]);
      return s;
    };
    this.recording = false;
    try {
      if (live.has(loss.id)) contributions.set(loss.id, [this.scalar(1)]);
      for (let i = this.records.length - 1; i >= 0; i--) {
        const r = this.records[i]!;
        const needs = r.inputs.map((x) => live.has(x.id));
        if (!needs.some(Boolean)) continue;
        const dOut = r.outputs.map(sumOf);
        if (dOut.every((d) => d === null)) continue;
        const dIn = r.backward(dOut, needs);
        r.inputs.forEach((x, j) => {
          const d = dIn[j];
          if (!d || !needs[j]) return;
          if (!sameShape(d.shape, x.shape)) throw new Error(`internal: ${r.op} backward gave a ${fmt(d.shape)} gradient for a ${fmt(x.shape)} input`);
          const list = contributions.get(x.id);
          if (list) list.push(d);
          else contributions.set(x.id, [d]);
        });
      }
      return params.map((p) => sumOf(p) ?? this.zeros(p.shape));
    } finally {
      this.recording = true;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  private named(name: string, dtype: DType, shape: readonly number[]): Value {
    return Object.freeze({ id: this.nextId++, name, dtype, shape: Object.freeze([...shape]) });
  }

  private fresh(dtype: DType, shape: readonly number[], hint: string): Value {
    // '#' keeps generated names apart from user-chosen ones like "blocks.0.ln1.weight".
    return this.named(`${hint}#${this.nextId}`, dtype, shape);
  }

  private operand(x: Operand): Value {
    return typeof x === "number" ? this.scalar(x) : x;
  }

  /** Emits one node; records its backward rule when recording and it has one. */
  private emit(
    op: string,
    inputs: readonly Value[],
    outs: ReadonlyArray<{ dtype: DType; shape: readonly number[] }>,
    attrs: Record<string, AttrValue> = {},
    backward?: Backward,
  ): Value[] {
    const outputs = outs.map((o) => this.fresh(o.dtype, o.shape, op.toLowerCase()));
    this.graph.node(
      op,
      inputs.map((x) => this.renamed.get(x.name) ?? x.name),
      { attrs, outputs: outputs.map((o) => o.name) },
    );
    for (const o of outputs) this.producers.set(o.name, this.graph.nodes[this.graph.nodes.length - 1]!);
    if (this.recording && backward) this.records.push({ op, inputs, outputs, backward });
    return outputs;
  }

  /**
   * Several ops recorded as one, with a hand-written backward (like tf.customGrad): `forward`
   * emits nodes with the tape's ops, `backward(dOut, needs)` returns one gradient (or null) per input.
   */
  customGrad(op: string, inputs: readonly Value[], forward: () => Value[], backward: Backward): Value[] {
    const was = this.recording;
    this.recording = false;
    let outputs: Value[];
    try {
      outputs = forward();
    } finally {
      this.recording = was;
    }
    if (this.recording) this.records.push({ op, inputs, outputs, backward });
    return outputs;
  }

  private unary(op: string, x: Value, grad: (dy: Value, y: Value) => Value, attrs: Record<string, AttrValue> = {}): Value {
    if (x.dtype !== "float32") throw new Error(`${op} needs a float32 input; got ${x.dtype}`);
    const [y] = this.emit(op, [x], [{ dtype: "float32", shape: x.shape }], attrs, ([dy]) => [grad(dy!, y!)]);
    return y!;
  }

  private binary(
    op: string,
    a: Operand,
    b: Operand,
    grad: (dy: Value, inputs: [Value, Value], needs: readonly boolean[], out: Value) => Array<Value | null>,
  ): Value {
    const x = this.operand(a),
      y = this.operand(b);
    if (x.dtype !== "float32" || y.dtype !== "float32") throw new Error(`${op} needs float32 operands; got ${x.dtype} and ${y.dtype}`);
    const shape = broadcastShapes(x.shape, y.shape, op);
    const [out] = this.emit(op, [x, y], [{ dtype: "float32", shape }], {}, ([dy], needs) => grad(dy!, [x, y], needs, out!));
    return out!;
  }

  /** Gradient of a selection: dy where cond goes to a, the rest to b, each summed to its shape. */
  private selectGrad(dy: Value, cond: Value, a: Value, b: Value, needs: readonly boolean[]): [Value | null, Value | null] {
    const ga = needs[0] ? this.sumTo(this.where(cond, dy, this.scalar(0)), a.shape) : null;
    const gb = needs[1] ? this.sumTo(this.where(cond, this.scalar(0), dy), b.shape) : null;
    return [ga, gb];
  }

  /** Sums a broadcast gradient back to `shape` (the inverse of numpy broadcasting). */
  private sumTo(g: Value, shape: readonly number[]): Value {
    if (sameShape(g.shape, shape)) return g;
    const extra = g.shape.length - shape.length;
    const axes: number[] = [];
    let onlyLeading = true;
    for (let i = 0; i < g.shape.length; i++) {
      if (i < extra) axes.push(i);
      else if (shape[i - extra] === 1 && g.shape[i] !== 1) {
        axes.push(i);
        onlyLeading = false;
      }
    }
    if (onlyLeading) return this.reduceSum(g, axes, false);
    return this.reshape(this.reduceSum(g, axes, true), shape);
  }

  private swapLast(x: Value): Value {
    const perm = x.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return this.transpose(x, perm);
  }
}
