// Validation of Score's `tokens` at the edge: dtype, rank, batch and sequence length, every id in
// the model's vocabulary; then the ids in the dtype the model declares (int32 ↔ int64).
import { DataType, type Tensor } from "@grpomesh/proto";
import { asInvalidArgument, invalidArgument, resourceExhausted } from "@grpomesh/rpc";
import { decodeTensor, dtypeName } from "@grpomesh/tensor";
import type { TokenIds } from "./loaded-model.ts";

export interface TokenBatch {
  /** Row-major [rows, seqLen] ids in the model's input dtype, in memory the judge owns. */
  ids: TokenIds;
  rows: number;
  seqLen: number;
}

export interface TokenExpectation {
  vocabSize: number;
  /** Fixed sequence length, or null when the model accepts any. */
  seqLen: number | null;
  inputDtype: "int32" | "int64";
  maxBatch: number;
  /** For messages: "judge-v1". */
  version: string;
}

const shapeText = (shape: readonly bigint[]) => `[${shape.join(", ")}]`;

/**
 * Checks `tokens` and returns its ids converted to the model's dtype. Malformed input throws
 * INVALID_ARGUMENT; a batch over `maxBatch` throws RESOURCE_EXHAUSTED.
 */
export function validateTokens(tokens: Tensor | undefined, expect: TokenExpectation): TokenBatch {
  if (!tokens) throw invalidArgument("tokens is missing; expected an int32 or int64 tensor [N, T] of token ids (set ScoreRequest.tokens)");
  if (tokens.dtype !== DataType.INT32 && tokens.dtype !== DataType.INT64) {
    throw invalidArgument(`tokens has dtype ${dtypeName(tokens.dtype)}; expected INT32 or INT64 token ids`);
  }
  const shape = tokens.shape;
  if (shape.length !== 2) {
    throw invalidArgument(`tokens has shape ${shapeText(shape)} (rank ${shape.length}); expected rank 2: [N sequences, T tokens]`);
  }
  const [n, t] = shape as [bigint, bigint];
  if (n < 0n || t < 0n) throw invalidArgument(`tokens has shape ${shapeText(shape)}; dimensions must be non-negative`);
  if (n === 0n) throw invalidArgument(`tokens has shape ${shapeText(shape)}: an empty batch; send at least one sequence`);
  if (expect.seqLen !== null && t !== BigInt(expect.seqLen)) {
    throw invalidArgument(`tokens has shape ${shapeText(shape)}; expected [N, ${expect.seqLen}]: judge model ${expect.version} scores sequences of exactly ${expect.seqLen} tokens`);
  }
  if (t === 0n) throw invalidArgument(`tokens has shape ${shapeText(shape)}: sequences of length 0; expected at least one token per sequence`);
  if (n > BigInt(expect.maxBatch)) {
    throw resourceExhausted(`tokens holds ${n} sequences; this judge accepts at most ${expect.maxBatch} per request (--max-batch); split the batch`);
  }
  const decoded = asInvalidArgument(() => decodeTensor(tokens, { name: "tokens", dtype: [DataType.INT32, DataType.INT64] }));
  const rows = Number(n);
  const seqLen = Number(t);
  return { ids: checkAndConvert(decoded.values as TokenIds, seqLen, expect), rows, seqLen };
}

/** One pass over the ids: range check and copy into the model's dtype (little-endian host, as libs/tensor checks). */
function checkAndConvert(values: TokenIds, seqLen: number, expect: TokenExpectation): TokenIds {
  const V = expect.vocabSize;
  const count = values.length;
  const fail = (i: number) => {
    const value = values[i]!;
    return invalidArgument(
      `tokens row ${Math.floor(i / seqLen)}, column ${i % seqLen} is ${value}; expected a token id in [0, ${V}) (judge model ${expect.version} has ${V} tokens in its vocabulary)`,
    );
  };
  // int64 ids are read as pairs of int32 words: low word the id, high word 0 for any valid id.
  const words = values instanceof BigInt64Array ? new Int32Array(values.buffer, values.byteOffset, count * 2) : null;
  if (expect.inputDtype === "int64") {
    const out = new BigInt64Array(count);
    const outWords = new Int32Array(out.buffer);
    for (let i = 0; i < count; i++) {
      const lo = words ? words[2 * i]! : (values as Int32Array)[i]!;
      if ((words && words[2 * i + 1] !== 0) || lo < 0 || lo >= V) throw fail(i);
      outWords[2 * i] = lo;
    }
    return out;
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const lo = words ? words[2 * i]! : (values as Int32Array)[i]!;
    if ((words && words[2 * i + 1] !== 0) || lo < 0 || lo >= V) throw fail(i);
    out[i] = lo;
  }
  return out;
}
