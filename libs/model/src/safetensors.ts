// The safetensors format (https://github.com/huggingface/safetensors), read and written here so
// weights move between engines without a Python dependency:
//   [u64 LE header length N][N bytes of JSON header][raw little-endian tensor data]
// The header maps tensor name → {dtype, shape, data_offsets: [begin, end]} (offsets relative to
// the data section) plus an optional "__metadata__" string→string map.
import { endianness } from "node:os";

export type SafeDtype = "F32" | "I32" | "I64";
export type SafeData = Float32Array | Int32Array | BigInt64Array;

export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  data: SafeData;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const ITEM_BYTES: Record<SafeDtype, number> = { F32: 4, I32: 4, I64: 8 };
const METADATA_KEY = "__metadata__";
// A header larger than this is not a weights file (the reference implementation uses 100 MB).
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

if (endianness() !== "LE") throw new Error("safetensors I/O assumes a little-endian machine (typed arrays are copied as raw bytes)");

function dtypeOf(data: SafeData): SafeDtype {
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof BigInt64Array) return "I64";
  throw new Error(`safetensors: unsupported array type ${(data as object).constructor?.name}; expected Float32Array, Int32Array or BigInt64Array`);
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor from a typed array and a shape (dtype follows the array type). */
export function safeTensor(data: SafeData, shape: number[]): SafeTensor {
  if (elementCount(shape) !== data.length) throw new Error(`tensor of shape [${shape}] needs ${elementCount(shape)} elements; got ${data.length}`);
  return { dtype: dtypeOf(data), shape, data };
}

/** Serialises tensors (sorted by name, so equal content gives equal bytes) and metadata. */
export function encodeSafetensors(tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") throw new Error(`safetensors metadata "${k}" must be a string; got ${typeof v}`);
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new Error(`"${METADATA_KEY}" is reserved and cannot name a tensor`);
    const dtype = dtypeOf(t.data);
    if (dtype !== t.dtype) throw new Error(`tensor "${name}" says dtype ${t.dtype} but holds a ${t.data.constructor.name}`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new Error(`tensor "${name}" has shape [${t.shape}]; dimensions must be non-negative integers`);
    if (elementCount(t.shape) !== t.data.length)
      throw new Error(`tensor "${name}" has shape [${t.shape}] (${elementCount(t.shape)} elements) but ${t.data.length} values`);
    const bytes = t.data.length * ITEM_BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned (allowed by the spec).
  const headerBytes = Buffer.byteLength(json, "utf8");
  json += " ".repeat((8 - (headerBytes % 8)) % 8);
  const headerBuf = Buffer.from(json, "utf8");
  const out = new Uint8Array(8 + headerBuf.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBuf.length), true);
  out.set(headerBuf, 8);
  let at = 8 + headerBuf.length;
  for (const [, t] of entries) {
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(raw, at);
    at += raw.length;
  }
  return out;
}

/** Parses safetensors bytes, refusing anything malformed with a message naming the problem. */
export function decodeSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsFile {
  const fail = (what: string): never => {
    throw new Error(`${source} is not a valid safetensors file: ${what}`);
  };
  if (bytes.length < 8) fail(`it is ${bytes.length} bytes long; the 8-byte header length alone needs 8`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) fail(`header length ${n} exceeds the ${bytes.length - 8} bytes after the length field`);
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLen).toString("utf8"));
  } catch (err) {
    fail(`header is not JSON (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header must be a JSON object");
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  const tensors = new Map<string, SafeTensor>();
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`"${METADATA_KEY}" must be a string→string map`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`"${METADATA_KEY}.${k}" must be a string; got ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== "object" || info === null) fail(`entry "${name}" must be an object with dtype, shape, data_offsets`);
    const dtype = info.dtype;
    if (dtype !== "F32" && dtype !== "I32" && dtype !== "I64") fail(`tensor "${name}" has dtype ${JSON.stringify(dtype)}; supported dtypes are F32, I32, I64`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      fail(`tensor "${name}" has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLen) fail(`tensor "${name}" has data_offsets [${begin}, ${end}] outside the ${dataLen}-byte data section`);
    const itemBytes = ITEM_BYTES[dtype as SafeDtype];
    const count = elementCount(shape as number[]);
    if (count * itemBytes !== end - begin) {
      fail(`tensor "${name}" of dtype ${dtype} and shape [${shape}] needs ${count * itemBytes} bytes but data_offsets span ${end - begin}`);
    }
    // Copy into a fresh buffer: the source offset need not be aligned for a typed-array view.
    // (Not bytes.slice: on a Node Buffer that is a view, not a copy.)
    const raw = new Uint8Array(bytes.subarray(dataStart + begin, dataStart + end));
    const data = dtype === "F32" ? new Float32Array(raw.buffer) : dtype === "I32" ? new Int32Array(raw.buffer) : new BigInt64Array(raw.buffer);
    tensors.set(name, { dtype: dtype as SafeDtype, shape: shape as number[], data });
    spans.push({ name, begin, end });
  }
  // The spec requires the tensors to tile the data section exactly: no overlap, no holes.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const s of spans) {
    if (s.begin < covered) fail(`tensor "${s.name}" (bytes ${s.begin}–${s.end}) overlaps the tensor before it (which ends at ${covered})`);
    if (s.begin > covered) fail(`bytes ${covered}–${s.begin} of the data section belong to no tensor (a hole before "${s.name}")`);
    covered = s.end;
  }
  if (covered !== dataLen) fail(`the data section is ${dataLen} bytes but the tensors cover only ${covered}`);
  return { tensors, metadata };
}
