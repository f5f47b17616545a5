// A tiny ONNX graph builder over onnx-buf (protobuf-es v2 messages): what the Tape (autodiff.ts)
// emits its nodes into, and how tests write small broken models for the contract.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataType,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
} from "onnx-buf";
import type { AttributeProto, NodeProto, TensorProto, ValueInfoProto } from "onnx-buf";

export { TensorProto_DataType };

/** Opset 17: LayerNormalization exists; ReduceMean still takes `axes` as an attribute. */
export const DEFAULT_OPSET = 17;
/** IR version 8 is the one that goes with opset 17. */
export const DEFAULT_IR_VERSION = 8n;

/** A dimension: a fixed size, a symbolic name ("batch"), or null for unknown. */
export type Dim = number | string | null;

/** Attribute values by JS type: number → INT (FLOAT when `float()` wraps it), string → STRING, arrays → INTS. */
export type AttrValue = number | bigint | string | number[] | bigint[] | { float: number };

export function float(value: number): { float: number } {
  return { float: value };
}

function attribute(name: string, value: AttrValue): AttributeProto {
  const T = AttributeProto_AttributeType;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}=${value} is not an integer; wrap float attributes in float(…)`);
    return create(AttributeProtoSchema, { name, type: T.INT, i: BigInt(value) });
  }
  if (typeof value === "bigint") return create(AttributeProtoSchema, { name, type: T.INT, i: value });
  if (typeof value === "string") return create(AttributeProtoSchema, { name, type: T.STRING, s: new TextEncoder().encode(value) });
  if (Array.isArray(value)) return create(AttributeProtoSchema, { name, type: T.INTS, ints: (value as Array<number | bigint>).map((v) => BigInt(v)) });
  return create(AttributeProtoSchema, { name, type: T.FLOAT, f: value.float });
}

export function valueInfo(name: string, elemType: TensorProto_DataType, dims: Dim[] | null): ValueInfoProto {
  const shape =
    dims === null
      ? undefined
      : create(TensorShapeProtoSchema, {
          dim: dims.map((d) =>
            create(TensorShapeProto_DimensionSchema, {
              value:
                typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : typeof d === "string" ? { case: "dimParam", value: d } : { case: undefined },
            }),
          ),
        });
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType, shape }) } }),
  });
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type TensorData = Float32Array | Int32Array | BigInt64Array | Int8Array;

function elemTypeOf(data: TensorData): TensorProto_DataType {
  if (data instanceof Float32Array) return TensorProto_DataType.FLOAT;
  if (data instanceof Int32Array) return TensorProto_DataType.INT32;
  if (data instanceof Int8Array) return TensorProto_DataType.INT8;
  return TensorProto_DataType.INT64;
}

/** A tensor stored as little-endian raw_data (the compact form every runtime reads). */
export function tensor(name: string, dims: number[], data: TensorData): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new Error(`tensor ${name} has ${data.length} values but shape [${dims.join(", ")}] needs ${count}; pass data matching the shape`);
  }
  // ONNX raw_data is little-endian: copy the bytes on little-endian hosts, swap on others.
  const rawData = new Uint8Array(data.byteLength);
  const view = new DataView(rawData.buffer);
  if (HOST_IS_LITTLE_ENDIAN) rawData.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  else if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else if (data instanceof Int32Array) data.forEach((v, i) => view.setInt32(i * 4, v, true));
  else if (data instanceof Int8Array) rawData.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  else data.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  return create(TensorProtoSchema, { name, dims: dims.map((d) => BigInt(d)), dataType: elemTypeOf(data), rawData });
}

/** The values of a FLOAT tensor (raw_data little-endian, or float_data): the reverse of `tensor`. */
export function floatValues(t: TensorProto): Float32Array {
  if (t.dataType !== TensorProto_DataType.FLOAT) throw new Error(`tensor "${t.name}" is ${TensorProto_DataType[t.dataType]}; expected FLOAT`);
  const count = t.dims.reduce((a, b) => a * Number(b), 1);
  if (t.rawData.length) {
    if (t.rawData.length !== count * 4)
      throw new Error(`tensor "${t.name}" holds ${t.rawData.length} bytes; its shape [${t.dims.join(", ")}] needs ${count * 4}`);
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (t.floatData.length !== count) throw new Error(`tensor "${t.name}" holds ${t.floatData.length} floats; its shape [${t.dims.join(", ")}] needs ${count}`);
  return Float32Array.from(t.floatData);
}

export interface ModelOptions {
  /** `metadata_props` of the ModelProto (key → value). */
  metadata?: Record<string, string>;
  opset?: number;
  irVersion?: bigint;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graphName?: string;
}

/**
 * Collects nodes, initializers, inputs and outputs. `node()` returns its output name so nodes
 * chain like expressions; names are generated from a prefix and stay unique.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  /** A fresh value name starting with `prefix`. */
  fresh(prefix: string): string {
    let name = prefix;
    while (this.used.has(name)) name = `${prefix}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  input(name: string, elemType: TensorProto_DataType, dims: Dim[] | null): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares `value` a graph output; renames it through an Identity when the names differ. */
  output(value: string, name: string, elemType: TensorProto_DataType, dims: Dim[] | null): string {
    if (value !== name) this.node("Identity", [value], { outputs: [name] });
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  initializer(name: string, dims: number[], data: TensorData): string {
    this.claim(name);
    this.initializers.push(tensor(name, dims, data));
    return name;
  }

  /** A constant initializer with a generated name (scalars: dims []). */
  constant(prefix: string, dims: number[], data: TensorData): string {
    const name = this.fresh(prefix);
    this.initializers.push(tensor(name, dims, data));
    return name;
  }

  /** Adds one node and returns its first output's name; `domain` names a contrib op's operator set ("com.microsoft"). */
  node(opType: string, inputs: string[], opts: { attrs?: Record<string, AttrValue>; outputs?: string[]; name?: string; domain?: string } = {}): string {
    const outputs = opts.outputs ?? [this.fresh(opts.name ?? opType.toLowerCase())];
    for (const out of opts.outputs ?? []) this.claim(out);
    const attribute_ = Object.entries(opts.attrs ?? {}).map(([k, v]) => attribute(k, v));
    // the default operator set leaves the field unset, so graphs without contrib ops serialize as they always did
    const domain = opts.domain ? { domain: opts.domain } : {};
    this.nodes.push(create(NodeProtoSchema, { opType, ...domain, input: inputs, output: outputs, name: this.fresh(`node_${opType}`), attribute: attribute_ }));
    return outputs[0]!;
  }

  /** Serializes a ModelProto holding this graph. */
  toModel(opts: ModelOptions = {}): Uint8Array {
    const graph = create(GraphProtoSchema, {
      name: opts.graphName ?? "main",
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    });
    const model = create(ModelProtoSchema, {
      irVersion: opts.irVersion ?? DEFAULT_IR_VERSION,
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(opts.opset ?? DEFAULT_OPSET) })],
      producerName: opts.producerName ?? "grpomesh",
      producerVersion: opts.producerVersion ?? "",
      docString: opts.docString ?? "",
      graph,
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
    });
    return toBinary(ModelProtoSchema, model);
  }

  private claim(name: string): void {
    if (this.used.has(name)) throw new Error(`ONNX value name "${name}" is already used in this graph; pick a unique name`);
    this.used.add(name);
  }
}
