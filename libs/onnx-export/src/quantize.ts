// int8 judges from fp32 ones: a graph rewrite of an exported ONNX model (same weights, same
// contract). Every MatMul whose right operand is a 2-D float initializer (the linear layers'
// weights) becomes dynamic quantization:
//
//   a_q, a_scale, a_zero = DynamicQuantizeLinear(a)            uint8 per tensor, computed per run
//   y = Cast(MatMulInteger(a_q, W_q, a_zero), float) · (a_scale · w_scale)
//
// with W_q int8 symmetric per output column (w_scale[n] = max_k |W[k, n]| / 127, zero point 0).
// onnxruntime fuses the pattern into one kernel (DynamicQuantizeMatMul, u8·s8 with VNNI where the
// CPU has it). Attention's activation×activation MatMuls, the embedding and everything else stay
// fp32; `keep` leaves named weights fp32 too. A Gemm with a weight initializer (transB, alpha, a
// bias C) is rewritten the same way.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ModelProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from "onnx-buf";
import { GraphBuilder, floatValues } from "@grpomesh/autodiff/graph";
import { META_VERSION } from "./contract.ts";

/** Metadata a quantized model carries: how it was made. */
export const META_QUANTIZED = "grpomesh.quantized";

export interface QuantizeOptions {
  /** Weight initializers to leave in fp32 (e.g. the score head). */
  keep?: readonly string[];
  /** The version the quantized model reports; default the model's own + "-int8". */
  version?: string;
  /** Rewrite gelu_tanh subgraphs as onnxruntime's FastGelu (default true). */
  fuseGelu?: boolean;
}

export interface QuantizeReport {
  /** The weights quantized, and those left fp32 (by `keep`). */
  quantized: string[];
  kept: string[];
  /** gelu_tanh subgraphs now one FastGelu each. */
  gelus: number;
  bytesBefore: number;
  bytesAfter: number;
  version: string;
}

/** Symmetric per-column int8: W [K, N] → q [K, N] and scale [N] (a zero column gets scale 1). */
export function quantizeColumns(w: Float32Array, K: number, N: number): { q: Int8Array; scale: Float32Array } {
  if (w.length !== K * N) throw new Error(`weights hold ${w.length} values; [${K}, ${N}] needs ${K * N}`);
  const scale = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(w[k * N + n]!));
    if (!Number.isFinite(max)) throw new Error(`column ${n} holds a value that is not finite`);
    scale[n] = max > 0 ? max / 127 : 1;
  }
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) q[k * N + n] = Math.max(-127, Math.min(127, Math.round(w[k * N + n]! / scale[n]!)));
  return { q, scale };
}

/** A linear layer the rewrite can quantize: y = a · W (+ bias), W a 2-D float initializer. */
interface Linear {
  a: string;
  weight: TensorProto;
  /** W as stored is [N, K] (Gemm transB = 1). */
  transposed: boolean;
  /** Gemm's alpha, folded into the weight scale. */
  alpha: number;
  /** Gemm's C (beta 1), added after the product. */
  bias?: string;
}

const attr = (n: NodeProto, name: string) => n.attribute.find((a) => a.name === name);

/** The linear layer `n` computes, or undefined when it is not one (attention's activation products, Gemm with transA or a scaled C). */
function linearOf(n: NodeProto, inits: Map<string, TensorProto>): Linear | undefined {
  const w = inits.get(n.input[1] ?? "");
  if (!w || w.dataType !== TensorProto_DataType.FLOAT || w.dims.length !== 2) return undefined;
  if (n.opType === "MatMul") return { a: n.input[0]!, weight: w, transposed: false, alpha: 1 };
  if (n.opType !== "Gemm") return undefined;
  const beta = attr(n, "beta")?.f ?? 1;
  if (Number(attr(n, "transA")?.i ?? 0n) !== 0 || (n.input[2] && beta !== 1)) return undefined;
  const linear: Linear = { a: n.input[0]!, weight: w, transposed: Number(attr(n, "transB")?.i ?? 0n) === 1, alpha: attr(n, "alpha")?.f ?? 1 };
  if (n.input[2]) linear.bias = n.input[2];
  return linear;
}

/** The int8 model of `bytes` (an exported fp32 model), and what was done. */
export function quantizeModel(bytes: Uint8Array, opts: QuantizeOptions = {}): { bytes: Uint8Array; report: QuantizeReport } {
  const model = decode(bytes);
  const graph = model.graph!;
  const meta = new Map(model.metadataProps.map((e) => [e.key, e.value]));
  if (meta.has(META_QUANTIZED)) throw new Error(`the model is already quantized (${META_QUANTIZED}: ${meta.get(META_QUANTIZED)}); quantize its fp32 original`);
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const keep = new Set(opts.keep ?? []);
  for (const k of keep) if (!inits.has(k)) throw new Error(`keep names "${k}", which is not an initializer of this model`);

  const linears = new Map<NodeProto, Linear>();
  for (const n of graph.node) {
    const l = linearOf(n, inits);
    if (l && !keep.has(l.weight.name)) linears.set(n, l);
  }
  const kept = [...new Set(graph.node.flatMap((n) => linearOf(n, inits)?.weight.name ?? []).filter((w) => keep.has(w)))];
  if (linears.size === 0) {
    const ops = [...new Set(graph.node.map((n) => n.opType))].join(", ");
    throw new Error(
      `no MatMul or Gemm of this model multiplies by a 2-D float weight initializer${keep.size ? " outside keep" : ""} (its ops: ${ops}); ` +
        "quantize rewrites a learned judge's linear layers (e.g. models/judge/model.onnx) — a rule judge has none",
    );
  }
  const gelus = opts.fuseGelu === false ? [] : findGelus(graph, inits);
  const quantized = rewrite(model, linears, gelus);
  const version = opts.version ?? `${meta.get(META_VERSION) ?? "unversioned"}-int8`;
  const props = model.metadataProps.filter((e) => e.key !== META_VERSION);
  props.push(
    create(StringStringEntryProtoSchema, { key: META_VERSION, value: version }),
    create(StringStringEntryProtoSchema, {
      key: META_QUANTIZED,
      value:
        `int8: ${quantized.length} weight matrices, per-column symmetric; activations uint8 per tensor at run time (DynamicQuantizeLinear)` +
        `${kept.length ? `; fp32: ${kept.join(", ")}` : ""}${gelus.length ? `; ${gelus.length} gelu_tanh as FastGelu` : ""}`,
    }),
  );
  model.metadataProps = props;
  const out = toBinary(ModelProtoSchema, model);
  return { bytes: out, report: { quantized, kept, gelus: gelus.length, bytesBefore: bytes.length, bytesAfter: out.length, version } };
}

/** `bytes` with its gelu_tanh subgraphs as FastGelu and nothing else changed (the fp32 weights, the version): what the fusion alone is worth. */
export function fuseGeluModel(bytes: Uint8Array): { bytes: Uint8Array; gelus: number } {
  const model = decode(bytes);
  const gelus = findGelus(model.graph!, new Map(model.graph!.initializer.map((t) => [t.name, t])));
  rewrite(model, new Map(), gelus);
  return { bytes: toBinary(ModelProtoSchema, model), gelus: gelus.length };
}

function decode(bytes: Uint8Array): ModelProto {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (err) {
    throw new Error(`not an ONNX ModelProto (${(err as Error).message}); expected a .onnx file`);
  }
  if (!model.graph) throw new Error("the model has no graph");
  return model;
}

/** Rewrites `model`'s graph in place: each linear layer as dynamic int8, each GELU as FastGelu. Returns the weights quantized. */
function rewrite(model: ModelProto, linears: Map<NodeProto, Linear>, gelus: Gelu[]): string[] {
  const graph = model.graph!;
  // The new nodes and initializers come from a GraphBuilder told every name already taken, except
  // the outputs the rewrites write again (each rewrite's last node writes its layer's output).
  const b = new GraphBuilder();
  const rewritten = new Set([...[...linears.keys()].flatMap((n) => n.output), ...gelus.map((g) => g.y)]);
  const taken = [graph.node.flatMap((n) => [n.name, ...n.input, ...n.output]), graph.initializer.map((t) => t.name), graph.input.map((v) => v.name)].flat();
  for (const name of new Set(taken)) if (name && !rewritten.has(name)) b.fresh(name);
  const geluOf = new Map(gelus.flatMap((g) => [...g.nodes].map((n) => [n, g] as const)));

  const weights = new Map<string, { q: string; scale: string }>();
  const nodes: NodeProto[] = [];
  for (const n of graph.node) {
    const gelu = geluOf.get(n);
    if (gelu) {
      if (n.output.includes(gelu.y)) {
        b.node("FastGelu", gelu.bias ? [gelu.x, gelu.bias] : [gelu.x], { outputs: [gelu.y], domain: "com.microsoft" });
        nodes.push(b.nodes.at(-1)!);
      }
      continue;
    }
    const l = linears.get(n);
    if (!l) {
      nodes.push(n);
      continue;
    }
    const w = l.weight;
    let int8 = weights.get(w.name);
    if (!int8) {
      const [rows, cols] = w.dims.map(Number) as [number, number];
      const values = floatValues(w);
      const [K, N] = l.transposed ? [cols, rows] : [rows, cols];
      const kn = l.transposed ? Float32Array.from({ length: K * N }, (_, i) => values[(i % N) * K + Math.floor(i / N)]!) : values;
      const { q, scale } = quantizeColumns(kn, K, N);
      int8 = { q: b.initializer(`${w.name}.int8`, [K, N], q), scale: b.initializer(`${w.name}.int8.scale`, [N], scale) };
      weights.set(w.name, int8);
    }
    const tag = `${n.name || n.output[0]}.int8`;
    const from = b.nodes.length;
    const [aq, as, az] = [`${tag}.a_q`, `${tag}.a_scale`, `${tag}.a_zero`];
    b.node("DynamicQuantizeLinear", [l.a], { outputs: [aq, as, az] });
    const product = b.node("MatMulInteger", [aq, int8.q, az], { name: `${tag}.int32` });
    const float = b.node("Cast", [product], { attrs: { to: TensorProto_DataType.FLOAT }, name: `${tag}.float` });
    let scale = b.node("Mul", [as, int8.scale], { name: `${tag}.scale` });
    if (l.alpha !== 1) scale = b.node("Mul", [scale, b.constant(`${tag}.alpha`, [], Float32Array.of(l.alpha))], { name: `${tag}.scale_alpha` });
    if (l.bias) b.node("Add", [b.node("Mul", [float, scale], { name: `${tag}.dequantized` }), l.bias], { outputs: [n.output[0]!] });
    else b.node("Mul", [float, scale], { outputs: [n.output[0]!] });
    nodes.push(...b.nodes.slice(from));
  }
  // a weight also read elsewhere (tied to an embedding, or a layer that keeps it fp32) stays
  const stillRead = new Set(nodes.flatMap((n) => n.input));
  graph.node = nodes;
  graph.initializer = [...graph.initializer.filter((t) => stillRead.has(t.name) || !weights.has(t.name)), ...b.initializers];
  if (gelus.length && !model.opsetImport.some((o) => o.domain === "com.microsoft"))
    model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: "com.microsoft", version: 1n }));
  return [...weights.keys()];
}

// ---------------------------------------------------------------------------------------------
// GELU: an exported gelu_tanh is 6–9 elementwise nodes, each a pass over [B·T, d_ff] that the int8
// layers around it leave as a large share of the judge's time. A subgraph computing it becomes one
// onnxruntime FastGelu (the same tanh formula), taking the fc layer's bias with it. A subgraph is
// recognised by what it computes, not by its node order: its elementwise nodes (scalar constants
// only) between one input x and one output, evaluated against gelu_tanh on test points.

const ELEMENTWISE = new Set(["Mul", "Add", "Sub", "Div", "Pow", "Tanh", "Sigmoid"]);

/** gelu_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** A GELU found in the graph: the nodes it replaces, its input (before the bias, when one is taken in) and output. */
interface Gelu {
  nodes: Set<NodeProto>;
  x: string;
  bias?: string;
  y: string;
}

function scalarOf(t: TensorProto | undefined): number | undefined {
  if (!t || t.dataType !== TensorProto_DataType.FLOAT || t.dims.reduce((a, b) => a * Number(b), 1) !== 1) return undefined;
  return floatValues(t)[0];
}

/** The values the elementwise `nodes` give `y` for x = `points` (undefined when they read anything else). */
function evaluate(nodes: NodeProto[], x: string, y: string, points: number[], inits: Map<string, TensorProto>): number[] | undefined {
  const values = new Map<string, number[]>([[x, points]]);
  const read = (name: string) => values.get(name) ?? (scalarOf(inits.get(name)) === undefined ? undefined : points.map(() => scalarOf(inits.get(name))!));
  const ops: Record<string, (a: number, b: number) => number> = {
    Mul: (a, b) => a * b,
    Add: (a, b) => a + b,
    Sub: (a, b) => a - b,
    Div: (a, b) => a / b,
    Pow: (a, b) => a ** b,
    Tanh: (a) => Math.tanh(a),
    Sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  };
  for (const n of nodes) {
    const args = n.input.map(read);
    if (args.some((a) => !a) || args.length < 1 || args.length > 2) return undefined;
    values.set(
      n.output[0]!,
      points.map((_, i) => ops[n.opType]!(args[0]![i]!, args[1]?.[i] ?? Number.NaN)),
    );
  }
  return values.get(y);
}

/** Every gelu_tanh subgraph of `graph` (by what it computes), each with the bias Add before it where one can be taken in. */
function findGelus(graph: { node: NodeProto[]; output: { name: string }[] }, inits: Map<string, TensorProto>): Gelu[] {
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node) for (const i of n.input) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const producer = new Map(graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  const constant = (name: string) => scalarOf(inits.get(name)) !== undefined;
  const found: Gelu[] = [];
  const taken = new Set<NodeProto>();
  for (const squash of graph.node.filter((n) => n.opType === "Tanh" || n.opType === "Sigmoid")) {
    // x: the one value outside the elementwise nodes behind the squashing function
    const leaves = new Set<string>();
    const stack = [...squash.input];
    for (const seen = new Set<string>(); stack.length;) {
      const v = stack.pop()!;
      if (seen.has(v) || constant(v)) continue;
      seen.add(v);
      const p = producer.get(v);
      if (p && ELEMENTWISE.has(p.opType) && p.input.every((i) => constant(i) || !inits.has(i))) stack.push(...p.input);
      else leaves.add(v);
    }
    if (leaves.size !== 1) continue;
    const x = [...leaves][0]!;
    // the nodes computed from x and constants alone, in graph order
    const inside = new Set<string>([x]);
    const nodes: NodeProto[] = [];
    for (const n of graph.node) {
      if (!ELEMENTWISE.has(n.opType) || taken.has(n) || !n.input.some((i) => inside.has(i)) || !n.input.every((i) => inside.has(i) || constant(i))) continue;
      nodes.push(n);
      n.output.forEach((o) => inside.add(o));
    }
    // one output leaves the subgraph, and x feeds nothing else
    const ins = new Set(nodes);
    const leaving = nodes.flatMap((n) => n.output).filter((o) => graphOutputs.has(o) || (consumers.get(o) ?? []).some((c) => !ins.has(c)));
    if (leaving.length !== 1 || (consumers.get(x) ?? []).some((c) => !ins.has(c)) || !ins.has(squash)) continue;
    const y = leaving[0]!;
    const points = Array.from({ length: 41 }, (_, i) => -5 + i / 4);
    const got = evaluate(nodes, x, y, points, inits);
    if (!got || got.some((v, i) => !(Math.abs(v - geluTanh(points[i]!)) <= 1e-5 * (1 + Math.abs(points[i]!))))) continue;
    const gelu: Gelu = { nodes: ins, x, y };
    // x = a + bias (bias a 1-D float initializer, x read only here): FastGelu takes the bias
    const add = producer.get(x);
    const bias =
      add?.opType === "Add" ? add.input.find((i) => inits.get(i)?.dims.length === 1 && inits.get(i)?.dataType === TensorProto_DataType.FLOAT) : undefined;
    if (add && bias && !graphOutputs.has(x)) {
      gelu.nodes.add(add);
      gelu.x = add.input.find((i) => i !== bias) ?? bias;
      gelu.bias = bias;
    }
    gelu.nodes.forEach((n) => taken.add(n));
    found.push(gelu);
  }
  return found;
}
