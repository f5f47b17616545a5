// Token-id tensors, decoded alike by every service: INT32 or INT64 on the wire (numpy's default
// integer is int64, so a Python client sends that unless told otherwise), Int32Array in memory.
// Every id must be non-negative and fit in int32 (and, when the caller knows it, be below the
// vocabulary size); the first one that does not is refused naming its position and value.
import { DataType, type Tensor } from "@grpomesh/proto";
import { TensorError, decodeTensor } from "./tensor.ts";

/** The dtypes a token tensor may travel as. */
export const TOKEN_DTYPES: readonly [DataType.INT32, DataType.INT64] = [DataType.INT32, DataType.INT64];

export interface TokenTensorExpectation {
  /** The field name used in error messages, e.g. "inputs". */
  name: string;
  /** Expected shape; `null` accepts any size in that dimension. Rank must match. */
  shape?: ReadonlyArray<number | null>;
  /** Refuse tensors with more elements than this. */
  maxElements?: number;
  /** When set, ids must also be below it: "expected a token id in [0, vocabSize)". */
  vocabSize?: number;
  /** Appended to the out-of-vocabulary message, e.g. " (this model has 10 tokens)". */
  vocabNote?: string;
  /**
   * Names of the dimensions for messages: ["row", "column"] names an element "tokens row 1,
   * column 5"; by default it is "tokens[1, 5]".
   */
  dimNames?: readonly string[];
}

export interface DecodedTokens {
  /** The dtype the tensor travelled as. */
  dtype: DataType.INT32 | DataType.INT64;
  shape: number[];
  /**
   * The ids, row-major. For an INT32 tensor this is a view over the message bytes when they are
   * aligned (as decodeTensor gives); for INT64 always a fresh array. Copy before keeping them.
   */
  values: Int32Array;
}

const INT32_MAX = 2147483647;

/** "inputs[1, 5]" or, with dimNames, "tokens row 1, column 5" for flat index `i` of `shape`. */
function elementName(name: string, shape: readonly number[], i: number, dimNames?: readonly string[]): string {
  const index: number[] = new Array<number>(shape.length);
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]!;
    index[d] = rest % size;
    rest = Math.floor(rest / size);
  }
  if (dimNames && dimNames.length === shape.length) return `${name} ${index.map((x, d) => `${dimNames[d]} ${x}`).join(", ")}`;
  return `${name}[${index.join(", ")}]`;
}

/**
 * Checks a token-id tensor (INT32 or INT64, shape as `expect` says) and returns its ids as an
 * Int32Array. A missing or malformed tensor, or an id that is negative, does not fit in int32 or
 * is at least `vocabSize`, throws a TensorError (gRPC INVALID_ARGUMENT) naming the element.
 */
export function decodeTokens(t: Tensor | undefined, expect: TokenTensorExpectation): DecodedTokens {
  const { name } = expect;
  const decoded = decodeTensor(t, { name, dtype: TOKEN_DTYPES, shape: expect.shape, maxElements: expect.maxElements });
  const limit = expect.vocabSize !== undefined ? Math.min(expect.vocabSize, INT32_MAX + 1) : INT32_MAX + 1;
  const fail = (i: number, value: number | bigint): TensorError => {
    const where = elementName(name, decoded.shape, i, expect.dimNames);
    const message =
      expect.vocabSize !== undefined
        ? `${where} is ${value}; expected a token id in [0, ${expect.vocabSize})${expect.vocabNote ?? ""}`
        : `${where} is ${value}; expected a token id in [0, ${INT32_MAX}] (ids are non-negative and fit in int32, whether sent as INT32 or INT64)`;
    return new TensorError(name, message);
  };

  if (decoded.dtype === DataType.INT32) {
    const values = decoded.values as Int32Array;
    for (let i = 0; i < values.length; i++) {
      const id = values[i]!;
      if (id < 0 || id >= limit) throw fail(i, id);
    }
    return { dtype: DataType.INT32, shape: decoded.shape, values };
  }

  // INT64: read each id as two int32 words (little-endian, as libs/tensor requires): the low word
  // is the id, the high word is 0 for every id that is non-negative and fits in int32.
  const wide = decoded.values as BigInt64Array;
  const count = wide.length;
  const words = new Int32Array(wide.buffer, wide.byteOffset, count * 2);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const lo = words[2 * i]!;
    if (words[2 * i + 1] !== 0 || lo < 0 || lo >= limit) throw fail(i, wide[i]!);
    out[i] = lo;
  }
  return { dtype: DataType.INT64, shape: decoded.shape, values: out };
}
