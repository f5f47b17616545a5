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
import { ModelProtoSchema, StringStringEntryProtoSchema, TensorProto_DataType, type ModelProto, type NodeProto, type TensorProto } from "onnx-buf";
import { GraphBuilder, floatValues } from "@grpomesh/autodiff/graph";
import { META_VERSION } from "./contract.ts";

/** Metadata a quantized model carries: how it was made. */
export const META_QUANTIZED = "grpomesh.quantized";

export interface QuantizeOptions {
  /** Weight initializers to leave in fp32 (e.g. the score head). */
  keep?: readonly string[];
  /** The version the quantized model reports; default the model's own + "-int8". */
  version?: string;
}

export interface QuantizeReport {
  /** The weights quantized, and those left fp32 (by `keep`). */
  quantized: string[];
  kept: string[];
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
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (err) {
    throw new Error(`not an ONNX ModelProto (${(err as Error).message}); expected a .onnx file`);
  }
  const graph = model.graph;
  if (!graph) throw new Error("the model has no graph");
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
  // The new nodes and initializers come from a GraphBuilder told every name already taken, except
  // the outputs of the layers it rewrites (each rewrite's last node writes its layer's output).
  const b = new GraphBuilder();
  const rewritten = new Set([...linears.keys()].flatMap((n) => n.output));
  const taken = [graph.node.flatMap((n) => [n.name, ...n.input, ...n.output]), graph.initializer.map((t) => t.name), graph.input.map((v) => v.name)].flat();
  for (const name of new Set(taken)) if (name && !rewritten.has(name)) b.fresh(name);

  const weights = new Map<string, { q: string; scale: string }>();
  const nodes: NodeProto[] = [];
  for (const n of graph.node) {
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
  const quantized = [...weights.keys()];
  // a weight also read elsewhere (tied to an embedding, or a layer that keeps it fp32) stays
  const stillRead = new Set(nodes.flatMap((n) => n.input));
  graph.node = nodes;
  graph.initializer = [...graph.initializer.filter((t) => stillRead.has(t.name) || !weights.has(t.name)), ...b.initializers];
  const version = opts.version ?? `${meta.get(META_VERSION) ?? "unversioned"}-int8`;
  const props = model.metadataProps.filter((e) => e.key !== META_VERSION);
  props.push(
    create(StringStringEntryProtoSchema, { key: META_VERSION, value: version }),
    create(StringStringEntryProtoSchema, {
      key: META_QUANTIZED,
      value: `int8: ${quantized.length} weight matrices, per-column symmetric; activations uint8 per tensor at run time (DynamicQuantizeLinear)${kept.length ? `; fp32: ${kept.join(", ")}` : ""}`,
    }),
  );
  model.metadataProps = props;
  const out = toBinary(ModelProtoSchema, model);
  return { bytes: out, report: { quantized, kept, bytesBefore: bytes.length, bytesAfter: out.length, version } };
}
