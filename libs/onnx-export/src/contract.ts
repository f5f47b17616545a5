// The judge contract (docs/judge-contract.md): what an ONNX file must look like for the judge
// service to score sequences with it. Checked from the model bytes, and against a loaded
// onnxruntime session when one is given (onnxruntime has no API for metadata_props).
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProto_DataType } from "onnx-buf";
import type { ModelProto, ValueInfoProto } from "onnx-buf";
import type { InferenceSession } from "onnxruntime-node";
import type { Dim } from "@grpomesh/autodiff/graph";

export const META_MODEL_TYPE = "grpomesh.model_type";
export const META_VOCAB = "grpomesh.vocab";
export const META_VERSION = "grpomesh.version";
export const META_NAME = "grpomesh.name";
export const SEQUENCE_SCORER = "sequence_scorer";

export class JudgeContractError extends Error {
  override name = "JudgeContractError";
}

export interface JudgeModelInfo {
  inputName: string;
  inputDtype: "int64" | "int32";
  /** The fixed sequence length, or null when the model accepts any length. */
  seqLen: number | null;
  outputName: string;
  /** As declared: a symbolic batch dim first, e.g. ["batch"] or ["batch", 1]. */
  outputShape: Dim[];
  /** Token strings in id order. */
  vocab: string[];
  version?: string;
  name?: string;
  modelType: typeof SEQUENCE_SCORER;
  /** Every metadata_props entry, for logs and `Info` RPCs. */
  metadata: Record<string, string>;
}

/** What the contract checks of a loaded session: the part of InferenceSession that describes I/O. */
export type SessionIo = Pick<InferenceSession, "inputNames" | "outputNames" | "inputMetadata" | "outputMetadata">;

const DTYPE_NAMES: Record<number, string> = {
  [TensorProto_DataType.FLOAT]: "float32",
  [TensorProto_DataType.UINT8]: "uint8",
  [TensorProto_DataType.INT8]: "int8",
  [TensorProto_DataType.UINT16]: "uint16",
  [TensorProto_DataType.INT16]: "int16",
  [TensorProto_DataType.INT32]: "int32",
  [TensorProto_DataType.INT64]: "int64",
  [TensorProto_DataType.STRING]: "string",
  [TensorProto_DataType.BOOL]: "bool",
  [TensorProto_DataType.FLOAT16]: "float16",
  [TensorProto_DataType.DOUBLE]: "float64",
  [TensorProto_DataType.UINT32]: "uint32",
  [TensorProto_DataType.UINT64]: "uint64",
  [TensorProto_DataType.BFLOAT16]: "bfloat16",
};

function dtypeName(elemType: number): string {
  return DTYPE_NAMES[elemType] ?? `ONNX data type ${elemType}`;
}

/** Formats a shape the way the contract writes it: [batch, 128]; "?" for an unknown dim. */
export function formatShape(dims: readonly Dim[]): string {
  return `[${dims.map((d) => (d === null || d === "" ? "?" : String(d))).join(", ")}]`;
}

interface TensorValue {
  name: string;
  elemType: number;
  dims: Dim[] | null;
}

function tensorValue(info: ValueInfoProto, role: "input" | "output"): TensorValue {
  const type = info.type?.value;
  if (type?.case !== "tensorType") {
    throw new JudgeContractError(
      `${role} "${info.name}" is ${type?.case ?? "untyped"}, not a tensor; expected a ${role === "input" ? "tensor of token ids [batch, seq_len]" : "float32 tensor [batch] or [batch, 1]"}`,
    );
  }
  const shape = type.value.shape;
  const dims = shape
    ? shape.dim.map((d): Dim =>
        d.value.case === "dimValue" ? Number(d.value.value) : d.value.case === "dimParam" && d.value.value !== "" ? d.value.value : null,
      )
    : null;
  return { name: info.name, elemType: type.value.elemType, dims };
}

const isFixed = (d: Dim): d is number => typeof d === "number";

function decodeModel(bytes: Uint8Array): ModelProto {
  try {
    return fromBinary(ModelProtoSchema, bytes);
  } catch (err) {
    throw new JudgeContractError(`model bytes are not an ONNX ModelProto (${(err as Error).message}); expected a .onnx file`);
  }
}

/** metadata_props as a plain record (the ModelProto's own, read from the bytes). */
export function readModelMetadata(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(decodeModel(bytes).metadataProps.map((e) => [e.key, e.value]));
}

function checkInput(model: ModelProto): TensorValue {
  const graph = model.graph!;
  // Before IR 4, initializers were also listed as graph inputs; they are not fed by the caller.
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1) {
    const names = inputs.map((i) => `"${i.name}"`).join(", ");
    throw new JudgeContractError(`model has ${inputs.length} inputs${names ? ` (${names})` : ""}; expected exactly one input of token ids [batch, seq_len]`);
  }
  const input = tensorValue(inputs[0]!, "input");
  if (input.elemType !== TensorProto_DataType.INT64 && input.elemType !== TensorProto_DataType.INT32) {
    throw new JudgeContractError(`input "${input.name}" is ${dtypeName(input.elemType)}; expected int64 or int32 token ids`);
  }
  if (input.dims === null) {
    throw new JudgeContractError(`input "${input.name}" has no declared shape; expected [batch, seq_len] with a dynamic batch`);
  }
  if (input.dims.length !== 2) {
    throw new JudgeContractError(`input "${input.name}" has shape ${formatShape(input.dims)}; expected [batch, seq_len]`);
  }
  if (isFixed(input.dims[0]!)) {
    throw new JudgeContractError(
      `input "${input.name}" has shape ${formatShape(input.dims)} with a fixed batch of ${input.dims[0]}; expected [batch, seq_len] with a dynamic batch (export with dim_param "batch")`,
    );
  }
  const seqLen = input.dims[1]!;
  if (isFixed(seqLen) && seqLen <= 0) {
    throw new JudgeContractError(`input "${input.name}" has shape ${formatShape(input.dims)}; expected a positive or dynamic seq_len`);
  }
  return input;
}

function checkOutput(model: ModelProto): TensorValue {
  const outputs = model.graph!.output;
  if (outputs.length !== 1) {
    const names = outputs.map((o) => `"${o.name}"`).join(", ");
    throw new JudgeContractError(
      `model has ${outputs.length} outputs${names ? ` (${names})` : ""}; expected exactly one float32 score output of shape [batch] or [batch, 1]`,
    );
  }
  const output = tensorValue(outputs[0]!, "output");
  if (output.elemType !== TensorProto_DataType.FLOAT) {
    throw new JudgeContractError(`output "${output.name}" is ${dtypeName(output.elemType)}; expected float32 scores of shape [batch] or [batch, 1]`);
  }
  const dims = output.dims;
  if (dims === null) throw new JudgeContractError(`output "${output.name}" has no declared shape; expected [batch] or [batch, 1]`);
  const shapeOk = (dims.length === 1 || (dims.length === 2 && dims[1] === 1)) && !isFixed(dims[0]!);
  if (!shapeOk) throw new JudgeContractError(`output "${output.name}" has shape ${formatShape(dims)}; expected [batch] or [batch, 1]`);
  return output;
}

function checkVocab(raw: string | undefined): string[] {
  const expected = 'expected a JSON array of the token strings in id order (specials by name, e.g. "[MASK]")';
  if (raw === undefined) throw new JudgeContractError(`metadata ${META_VOCAB} is missing; ${expected}`);
  let vocab: unknown;
  try {
    vocab = JSON.parse(raw);
  } catch (err) {
    throw new JudgeContractError(`metadata ${META_VOCAB} is not valid JSON (${(err as Error).message}); ${expected}`);
  }
  if (!Array.isArray(vocab) || vocab.length === 0 || !vocab.every((t) => typeof t === "string" && t.length > 0)) {
    throw new JudgeContractError(`metadata ${META_VOCAB} is ${raw.length > 80 ? `${raw.slice(0, 80)}…` : raw}; ${expected}, each non-empty`);
  }
  const seen = new Map<string, number>();
  for (const [id, token] of (vocab as string[]).entries()) {
    const first = seen.get(token);
    if (first !== undefined) {
      throw new JudgeContractError(`metadata ${META_VOCAB} lists ${JSON.stringify(token)} twice (ids ${first} and ${id}); expected each token string once`);
    }
    seen.set(token, id);
  }
  return vocab as string[];
}

function checkSession(session: SessionIo, input: TensorValue, output: TensorValue, inputDtype: string): void {
  const sameNames = (got: readonly string[], want: string) => got.length === 1 && got[0] === want;
  if (!sameNames(session.inputNames, input.name) || !sameNames(session.outputNames, output.name)) {
    throw new JudgeContractError(
      `session has inputs [${session.inputNames.join(", ")}] and outputs [${session.outputNames.join(", ")}] but the model bytes declare input "${input.name}" and output "${output.name}"; load the session from the same bytes`,
    );
  }
  const inMeta = session.inputMetadata[0];
  const outMeta = session.outputMetadata[0];
  if (inMeta && (!inMeta.isTensor || inMeta.type !== inputDtype)) {
    throw new JudgeContractError(
      `session input "${input.name}" is ${inMeta.isTensor ? inMeta.type : "not a tensor"}; expected ${inputDtype} as the model bytes declare`,
    );
  }
  if (outMeta && (!outMeta.isTensor || outMeta.type !== "float32")) {
    throw new JudgeContractError(`session output "${output.name}" is ${outMeta.isTensor ? outMeta.type : "not a tensor"}; expected float32 scores`);
  }
  // Fixed dims must agree; symbolic names may differ between the bytes and the runtime's view.
  const agree = (got: ReadonlyArray<number | string>, want: Dim[] | null) =>
    want === null || got.length === 0 || (got.length === want.length && got.every((d, i) => !isFixed(want[i]!) || d === want[i]));
  if (inMeta?.isTensor && !agree(inMeta.shape, input.dims)) {
    throw new JudgeContractError(
      `session input "${input.name}" has shape ${formatShape([...inMeta.shape])}; expected ${formatShape(input.dims!)} as the model bytes declare`,
    );
  }
  if (outMeta?.isTensor && !agree(outMeta.shape, output.dims)) {
    throw new JudgeContractError(
      `session output "${output.name}" has shape ${formatShape([...outMeta.shape])}; expected ${formatShape(output.dims!)} as the model bytes declare`,
    );
  }
}

/**
 * Checks that `bytes` hold a judge model (docs/judge-contract.md) and describes it; throws
 * JudgeContractError saying what was found and what was expected. Pass the session created from
 * the same bytes to check the runtime's view of inputs and outputs too.
 */
export function inspectJudgeModel(bytes: Uint8Array, session?: SessionIo): JudgeModelInfo {
  const model = decodeModel(bytes);
  if (!model.graph) throw new JudgeContractError("model has no graph; expected an ONNX ModelProto with a graph (is this a .onnx file?)");
  const input = checkInput(model);
  const output = checkOutput(model);

  const metadata = Object.fromEntries(model.metadataProps.map((e) => [e.key, e.value]));
  const modelType = metadata[META_MODEL_TYPE];
  if (modelType === undefined) {
    throw new JudgeContractError(`metadata ${META_MODEL_TYPE} is missing; expected "${SEQUENCE_SCORER}" (set it in the ONNX metadata_props)`);
  }
  if (modelType !== SEQUENCE_SCORER) {
    throw new JudgeContractError(`metadata ${META_MODEL_TYPE} is "${modelType}"; expected "${SEQUENCE_SCORER}"`);
  }
  const vocab = checkVocab(metadata[META_VOCAB]);
  const inputDtype = input.elemType === TensorProto_DataType.INT64 ? "int64" : "int32";
  if (session) checkSession(session, input, output, inputDtype);

  const info: JudgeModelInfo = {
    inputName: input.name,
    inputDtype,
    seqLen: isFixed(input.dims![1]!) ? input.dims![1] : null,
    outputName: output.name,
    outputShape: output.dims!,
    vocab,
    modelType: SEQUENCE_SCORER,
    metadata,
  };
  if (metadata[META_VERSION] !== undefined) info.version = metadata[META_VERSION];
  if (metadata[META_NAME] !== undefined) info.name = metadata[META_NAME];
  return info;
}
