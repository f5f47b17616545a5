// Validation of Score's `tokens` at the edge: dtype, rank, batch and sequence length, every id in
// the model's vocabulary; then the ids in the dtype the model declares (int32 ↔ int64).
import { DataType, type Tensor } from "@grpomesh/proto";
import { asInvalidArgument, invalidArgument, resourceExhausted } from "@grpomesh/rpc";
import { decodeTokens, dtypeName, type DecodedTokens } from "@grpomesh/tensor";
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
    throw invalidArgument(
      `tokens has shape ${shapeText(shape)}; expected [N, ${expect.seqLen}]: judge model ${expect.version} scores sequences of exactly ${expect.seqLen} tokens`,
    );
  }
  if (t === 0n) throw invalidArgument(`tokens has shape ${shapeText(shape)}: sequences of length 0; expected at least one token per sequence`);
  if (n > BigInt(expect.maxBatch)) {
    throw resourceExhausted(`tokens holds ${n} sequences; this judge accepts at most ${expect.maxBatch} per request (--max_batch); split the batch`);
  }
  const V = expect.vocabSize;
  const decoded = asInvalidArgument(() =>
    decodeTokens(tokens, {
      name: "tokens",
      vocabSize: V,
      vocabNote: ` (judge model ${expect.version} has ${V} tokens in its vocabulary)`,
      dimNames: ["row", "column"],
    }),
  );
  return { ids: toModelDtype(decoded, expect.inputDtype), rows: Number(n), seqLen: Number(t) };
}

/** The checked ids in the model's dtype, in a fresh array (an INT32 request decodes to a view over its bytes). */
function toModelDtype(decoded: DecodedTokens, inputDtype: "int32" | "int64"): TokenIds {
  const values = decoded.values;
  if (inputDtype === "int32") return decoded.dtype === DataType.INT32 ? values.slice() : values;
  // Every id is in [0, V) ⊂ [0, 2^31): the low word is the id, the high word 0 (little-endian host, as libs/tensor checks).
  const out = new BigInt64Array(values.length);
  const outWords = new Int32Array(out.buffer);
  for (let i = 0; i < values.length; i++) outWords[2 * i] = values[i]!;
  return out;
}
