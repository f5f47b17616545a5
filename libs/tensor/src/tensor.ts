// The Tensor wire format: {dtype, shape, data} with row-major little-endian raw bytes (the KServe v2 /
// Triton "raw contents" convention). Encoding and decoding make views, never per-element copies.
import { endianness } from "node:os";
import { create } from "@bufbuild/protobuf";
import { DataType, TensorSchema, type Tensor } from "@grpomesh/proto";

export type TensorValues = Float32Array | Int32Array | BigInt64Array | Uint8Array | Float64Array;

/** Typed array type for each dtype (BOOL travels as one byte per element, 0 or 1). */
export type ValuesOf<D extends DataType> = D extends DataType.FLOAT32
  ? Float32Array
  : D extends DataType.INT32
    ? Int32Array
    : D extends DataType.INT64
      ? BigInt64Array
      : D extends DataType.UINT8 | DataType.BOOL
        ? Uint8Array
        : D extends DataType.FLOAT64
          ? Float64Array
          : never;

/** A refusal to encode or decode a tensor; `field` names the tensor (e.g. "inputs"). */
export class TensorError extends Error {
  readonly field: string;
  /** gRPC INVALID_ARGUMENT: a malformed tensor is always the caller's input (libs/rpc reads this). */
  readonly grpcCode = 3;
  constructor(field: string, message: string) {
    super(message);
    this.name = "TensorError";
    this.field = field;
  }
}

type TypedArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorValues; BYTES_PER_ELEMENT: number };

const CTOR_OF: Record<number, TypedArrayCtor> = {
  [DataType.FLOAT32]: Float32Array,
  [DataType.INT32]: Int32Array,
  [DataType.INT64]: BigInt64Array,
  [DataType.UINT8]: Uint8Array,
  [DataType.FLOAT64]: Float64Array,
  [DataType.BOOL]: Uint8Array,
};

const KNOWN_DTYPES = Object.keys(CTOR_OF).map(Number) as DataType[];

/** "FLOAT32" for DataType.FLOAT32; "DataType(42)" for a number the enum does not know. */
export function dtypeName(dtype: DataType): string {
  return (DataType as unknown as Record<number, string | undefined>)[dtype] ?? `DataType(${dtype})`;
}

/** Bytes per element of a dtype; throws for UNSPECIFIED or unknown values. */
export function itemSize(dtype: DataType): number {
  const ctor = CTOR_OF[dtype];
  if (!ctor) throw new TensorError("dtype", `dtype ${dtypeName(dtype)} has no element size; expected one of ${KNOWN_DTYPES.map(dtypeName).join(", ")}`);
  return ctor.BYTES_PER_ELEMENT;
}

// The wire is little-endian and we hand out views over it, so a big-endian host would silently
// read garbage. No supported platform (x86-64, arm64 Linux) is big-endian: refuse rather than swap.
let endianChecked = false;
function assertLittleEndian(): void {
  if (endianChecked) return;
  if (endianness() !== "LE") {
    throw new Error(
      `@grpomesh/tensor needs a little-endian host (the wire format is little-endian raw bytes and is decoded as views); this host is ${endianness()}. Run on x86-64 or arm64.`,
    );
  }
  endianChecked = true;
}

function dtypeOfArray(values: TensorValues): DataType {
  if (values instanceof Float32Array) return DataType.FLOAT32;
  if (values instanceof Int32Array) return DataType.INT32;
  if (values instanceof BigInt64Array) return DataType.INT64;
  if (values instanceof Float64Array) return DataType.FLOAT64;
  // Uint8ClampedArray is not a Uint8Array subclass, so it falls through to the error below.
  if (values instanceof Uint8Array) return DataType.UINT8;
  const kind = (values as object)?.constructor?.name ?? typeof values;
  throw new TensorError("values", `cannot encode a ${kind}; expected Float32Array, Int32Array, BigInt64Array, Uint8Array or Float64Array`);
}

function formatShape(shape: ReadonlyArray<number | bigint | null>): string {
  return `[${shape.map((d) => (d === null ? "*" : String(d))).join(", ")}]`;
}

/**
 * Wraps a typed array as a Tensor message. `data` is a view over the array's own bytes (no copy),
 * so later writes to `values` show up in the message. Pass `DataType.BOOL` to send a Uint8Array of
 * 0/1 as BOOL.
 */
export function encodeTensor(values: TensorValues, shape: readonly number[], dtype?: DataType.BOOL): Tensor {
  assertLittleEndian();
  const inferred = dtypeOfArray(values);
  if (dtype === DataType.BOOL && inferred !== DataType.UINT8) {
    throw new TensorError("values", `BOOL tensors are encoded from a Uint8Array of 0/1; got a ${dtypeName(inferred)} array`);
  }
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new TensorError("shape", `shape ${formatShape(shape)} has dimension ${d}; expected non-negative integers`);
    }
    count *= d;
  }
  if (count !== values.length) {
    throw new TensorError("shape", `shape ${formatShape(shape)} holds ${count} elements but the array has ${values.length}; pass the shape of these values`);
  }
  return create(TensorSchema, {
    dtype: dtype ?? inferred,
    shape: shape.map((d) => BigInt(d)),
    data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  });
}

export interface TensorExpectation<D extends DataType = DataType> {
  /** The field name used in error messages, e.g. "inputs". */
  name: string;
  /** Accepted dtype(s); any known dtype when left out. */
  dtype?: D | readonly D[];
  /** Expected shape; `null` accepts any size in that dimension. Rank must match. */
  shape?: ReadonlyArray<number | null>;
  /** Refuse tensors with more elements than this (guards memory against hostile or buggy peers). */
  maxElements?: number;
}

export interface DecodedTensor<D extends DataType = DataType> {
  dtype: D;
  shape: number[];
  values: ValuesOf<D>;
}

/**
 * Checks a Tensor message against `expect` and returns its values as a typed array. The values are
 * a view over `t.data` when its offset is aligned for the element type (writes then reach the
 * message), otherwise one bulk copy.
 */
export function decodeTensor<D extends DataType = DataType>(t: Tensor | undefined, expect: TensorExpectation<D>): DecodedTensor<D> {
  assertLittleEndian();
  const name = expect.name;
  if (!t) throw new TensorError(name, `${name} is missing; expected a tensor (set the ${name} field of the request)`);

  const dtype = t.dtype as DataType;
  const ctor = CTOR_OF[dtype];
  if (!ctor) {
    throw new TensorError(name, `${name} has dtype ${dtypeName(dtype)}; expected one of ${KNOWN_DTYPES.map(dtypeName).join(", ")} (set the dtype field)`);
  }
  if (expect.dtype !== undefined) {
    const allowed: readonly DataType[] = Array.isArray(expect.dtype) ? expect.dtype : [expect.dtype as DataType];
    if (!allowed.includes(dtype)) {
      throw new TensorError(name, `${name} has dtype ${dtypeName(dtype)}; expected ${allowed.map(dtypeName).join(" or ")}`);
    }
  }

  const rawShape = t.shape as ReadonlyArray<bigint | number>;
  const shape: number[] = [];
  let count = 1;
  for (const raw of rawShape) {
    if (raw < 0) throw new TensorError(name, `${name} has shape ${formatShape(rawShape)}; dimensions must be non-negative`);
    if (raw > Number.MAX_SAFE_INTEGER) {
      throw new TensorError(name, `${name} has shape ${formatShape(rawShape)}; dimension ${raw} exceeds ${Number.MAX_SAFE_INTEGER}`);
    }
    const d = Number(raw);
    shape.push(d);
    count *= d;
  }
  // count is a float product: past 2^53 it is inexact but stays above the limit; report the exact one.
  if (count > Number.MAX_SAFE_INTEGER) {
    const exact = rawShape.reduce<bigint>((a, d) => a * BigInt(d), 1n);
    throw new TensorError(name, `${name} has shape ${formatShape(shape)} with ${exact} elements; expected at most ${Number.MAX_SAFE_INTEGER}`);
  }
  if (expect.maxElements !== undefined && count > expect.maxElements) {
    throw new TensorError(name, `${name} has shape ${formatShape(shape)} with ${count} elements; expected at most ${expect.maxElements}`);
  }

  if (expect.shape) {
    const want = expect.shape;
    const matches = want.length === shape.length && want.every((w, i) => w === null || w === shape[i]);
    if (!matches) throw new TensorError(name, `${name} has shape ${formatShape(shape)}; expected ${formatShape(want)}`);
  }

  const size = ctor.BYTES_PER_ELEMENT;
  const data = t.data;
  if (data.byteLength !== count * size) {
    throw new TensorError(name, `${name}: ${data.byteLength} bytes for shape ${formatShape(shape)} of ${dtypeName(dtype)}; expected ${count * size}`);
  }

  let values: TensorValues;
  if (data.byteOffset % size === 0) {
    values = new ctor(data.buffer, data.byteOffset, count);
  } else {
    // Unaligned (e.g. a bytes field inside a parsed message). Copy once with set(): Buffer#slice
    // would return another unaligned view rather than a copy.
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    values = new ctor(copy.buffer, 0, count);
  }
  return { dtype: dtype as D, shape, values: values as ValuesOf<D> };
}

/** Converts int64 values to int32, refusing any value outside the int32 range. */
export function int64ToInt32(values: BigInt64Array, name = "values"): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      throw new TensorError(name, `${name}[${i}] is ${v}; expected a value in the int32 range [-2147483648, 2147483647]`);
    }
    out[i] = Number(v);
  }
  return out;
}
