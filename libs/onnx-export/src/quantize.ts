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
// fp32; `keep` leaves named weights fp32 too.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  ModelProtoSchema,
  NodeProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from "onnx-buf";
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

/** The float values of a FLOAT initializer (raw_data little-endian, or float_data). */
export function floatInitializer(t: TensorProto): Float32Array {
  if (t.dataType !== TensorProto_DataType.FLOAT) throw new Error(`initializer "${t.name}" is ${TensorProto_DataType[t.dataType]}; expected FLOAT`);
  const count = t.dims.reduce((a, b) => a * Number(b), 1);
  if (t.rawData.length) {
    if (t.rawData.length !== count * 4) throw new Error(`initializer "${t.name}" holds ${t.rawData.length} bytes; its shape [${t.dims}] needs ${count * 4}`);
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (t.floatData.length !== count) throw new Error(`initializer "${t.name}" holds ${t.floatData.length} floats; its shape [${t.dims}] needs ${count}`);
  return Float32Array.from(t.floatData);
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

const tensor = (name: string, dims: number[], dataType: TensorProto_DataType, raw: Uint8Array<ArrayBuffer>): TensorProto =>
  create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType, rawData: raw });

const rawFloats = (x: Float32Array) => {
  const out = new Uint8Array(x.length * 4);
  const view = new DataView(out.buffer);
  x.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
};

const node = (opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, number> = {}): NodeProto =>
  create(NodeProtoSchema, {
    opType,
    input: inputs,
    output: outputs,
    name,
    attribute: Object.entries(attrs).map(([n, i]) => create(AttributeProtoSchema, { name: n, type: AttributeProto_AttributeType.INT, i: BigInt(i) })),
  });

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
  const uses = new Map<string, number>();
  for (const n of graph.node) for (const i of n.input) uses.set(i, (uses.get(i) ?? 0) + 1);

  const quantized: string[] = [];
  const kept: string[] = [];
  const nodes: NodeProto[] = [];
  const newInits: TensorProto[] = [];
  const replaced = new Set<string>();
  for (const n of graph.node) {
    const w = n.opType === "MatMul" ? inits.get(n.input[1]!) : undefined;
    if (!w || w.dataType !== TensorProto_DataType.FLOAT || w.dims.length !== 2) {
      nodes.push(n);
      continue;
    }
    if (keep.has(w.name)) {
      kept.push(w.name);
      nodes.push(n);
      continue;
    }
    const [K, N] = w.dims.map(Number) as [number, number];
    const { q, scale } = quantizeColumns(floatInitializer(w), K, N);
    const p = `${w.name}.int8`;
    newInits.push(
      tensor(`${p}.q`, [K, N], TensorProto_DataType.INT8, new Uint8Array(q.buffer as ArrayBuffer)),
      tensor(`${p}.scale`, [N], TensorProto_DataType.FLOAT, rawFloats(scale)),
    );
    const a = n.input[0]!;
    const tag = `${n.name || n.output[0]}.int8`;
    nodes.push(
      node("DynamicQuantizeLinear", [a], [`${tag}.a_q`, `${tag}.a_scale`, `${tag}.a_zero`], `${tag}.quantize`),
      node("MatMulInteger", [`${tag}.a_q`, `${p}.q`, `${tag}.a_zero`], [`${tag}.int32`], `${tag}.matmul`),
      node("Cast", [`${tag}.int32`], [`${tag}.float`], `${tag}.cast`, { to: TensorProto_DataType.FLOAT }),
      node("Mul", [`${tag}.a_scale`, `${p}.scale`], [`${tag}.scale`], `${tag}.scale`),
      node("Mul", [`${tag}.float`, `${tag}.scale`], [n.output[0]!], `${tag}.dequantize`),
    );
    quantized.push(w.name);
    if ((uses.get(w.name) ?? 0) === 1) replaced.add(w.name);
  }
  if (quantized.length === 0) throw new Error("no MatMul of this model has a 2-D float weight initializer to quantize");
  graph.node = nodes;
  graph.initializer = [...graph.initializer.filter((t) => !replaced.has(t.name)), ...newInits];
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
