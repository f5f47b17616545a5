// Masked training batches. Batch n is a pure function of (seed, n): window starts and masks come
// from an Rng seeded with mixSeeds(seed, "train-batch", n). Nothing else is carried between
// batches, so a saved cursor resumes exactly, with no replayed or skipped data.
import { mixSeeds, Rng } from "@grpomesh/rng";
import { checkMasking, drawMask, type MaskingSpec } from "./masking.ts";

export interface MaskedBatch {
  batchSize: number;
  seqLen: number;
  /** [B·T] ids with masked positions replaced by maskTokenId (the model's input). */
  inputs: Int32Array;
  /** [B·T] original ids. */
  targets: Int32Array;
  /** [B·T] 1 where masked. */
  mask: Uint8Array;
  /** [B] index of each window's first token in the ids the batch was drawn from. */
  starts: Int32Array;
}

/** Where a stream continues. `stream` identifies the data and settings, so a resume with other ones is refused. */
export interface StreamCursor {
  batch: number;
  stream?: string;
}

export interface StreamBatch extends MaskedBatch {
  /** This batch's number. */
  index: number;
  /** The cursor to save after this batch: resuming from it yields batch index + 1. */
  cursor: StreamCursor;
}

export interface MaskedBatchStreamOptions {
  ids: Int32Array;
  seqLen: number;
  batchSize: number;
  seed: number | bigint | string;
  masking: MaskingSpec;
  maskTokenId: number;
  cursor?: StreamCursor;
}

function checkShape(ids: Int32Array, seqLen: number, batchSize: number, maskTokenId: number): void {
  if (!(ids instanceof Int32Array)) throw new Error(`ids must be an Int32Array of token ids; got ${(ids as object)?.constructor?.name ?? typeof ids}`);
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new Error(`seqLen is ${seqLen}; expected a positive integer`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize is ${batchSize}; expected a positive integer`);
  if (!Number.isInteger(maskTokenId) || maskTokenId < 0) throw new Error(`maskTokenId is ${maskTokenId}; expected the vocabulary's mask_token_id`);
  if (ids.length < seqLen) throw new Error(`the data has ${ids.length} tokens, fewer than seqLen ${seqLen}; use a shorter seqLen or more data`);
}

// FNV-1a over the ids: a cheap fingerprint (≈10 ms for the whole corpus) that tells data sets apart.
function hashIds(ids: Int32Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < ids.length; i++) h = Math.imul(h ^ ids[i]!, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

function fillWindow(ids: Int32Array, start: number, b: number, out: MaskedBatch, masking: MaskingSpec, maskTokenId: number, rng: Rng): void {
  const T = out.seqLen;
  const offset = b * T;
  out.starts[b] = start;
  out.targets.set(ids.subarray(start, start + T), offset);
  const mask = drawMask(masking, T, rng, out.mask.subarray(offset, offset + T));
  for (let t = 0; t < T; t++) out.inputs[offset + t] = mask[t] ? maskTokenId : out.targets[offset + t]!;
}

function emptyBatch(batchSize: number, seqLen: number): MaskedBatch {
  const n = batchSize * seqLen;
  return { batchSize, seqLen, inputs: new Int32Array(n), targets: new Int32Array(n), mask: new Uint8Array(n), starts: new Int32Array(batchSize) };
}

export class MaskedBatchStream {
  readonly seqLen: number;
  readonly batchSize: number;
  /** Identifies seed, shapes, data and masking; stored in every cursor. */
  readonly fingerprint: string;
  private readonly ids: Int32Array;
  private readonly seed: number | bigint | string;
  private readonly masking: MaskingSpec;
  private readonly maskTokenId: number;
  private nextBatch = 0;

  constructor(options: MaskedBatchStreamOptions) {
    const { ids, seqLen, batchSize, seed, masking, maskTokenId } = options;
    checkShape(ids, seqLen, batchSize, maskTokenId);
    checkMasking(masking);
    this.ids = ids;
    this.seqLen = seqLen;
    this.batchSize = batchSize;
    this.seed = seed;
    this.masking = structuredClone(masking);
    this.maskTokenId = maskTokenId;
    const maskingHash = mixSeeds(JSON.stringify(masking)).toString(16).padStart(8, "0");
    this.fingerprint = `seed=${String(seed)} seqLen=${seqLen} batchSize=${batchSize} data=${ids.length}:${hashIds(ids)} masking=${maskingHash} mask=${maskTokenId}`;
    if (options.cursor) this.seek(options.cursor);
  }

  /** The cursor of the next batch (save it in checkpoints). */
  get cursor(): StreamCursor {
    return { batch: this.nextBatch, stream: this.fingerprint };
  }

  /** Continue from a saved cursor. Refuses a cursor saved from a stream with other data or settings. */
  seek(cursor: StreamCursor): void {
    if (!cursor || typeof cursor !== "object" || !Number.isSafeInteger(cursor.batch) || cursor.batch < 0) {
      throw new Error(`data cursor is ${JSON.stringify(cursor)}; expected {"batch": n} with n a non-negative integer`);
    }
    if (cursor.stream !== undefined && cursor.stream !== this.fingerprint) {
      throw new Error(
        `data cursor was saved from stream "${cursor.stream}" but this stream is "${this.fingerprint}"; ` +
          `resume with the same seed, seqLen, batchSize, data and masking, or start over from {"batch": 0}`,
      );
    }
    this.nextBatch = cursor.batch;
  }

  next(): StreamBatch {
    const batch = this.batchAt(this.nextBatch);
    this.nextBatch++;
    return batch;
  }

  /** Batch `index`, without moving the cursor: a pure function of (seed, index). */
  batchAt(index: number): StreamBatch {
    if (!Number.isSafeInteger(index) || index < 0) throw new Error(`batch index is ${index}; expected a non-negative integer`);
    const rng = new Rng(mixSeeds(this.seed, "train-batch", index));
    const out = emptyBatch(this.batchSize, this.seqLen);
    const windows = this.ids.length - this.seqLen + 1;
    for (let b = 0; b < this.batchSize; b++) {
      fillWindow(this.ids, rng.nextInt(windows), b, out, this.masking, this.maskTokenId, rng);
    }
    return { ...out, index, cursor: { batch: index + 1, stream: this.fingerprint } };
  }
}

export interface EvalBatchOptions {
  count: number;
  batchSize: number;
  seqLen: number;
  seed: number | bigint | string;
  masking: MaskingSpec;
  maskTokenId: number;
}

/**
 * A fixed evaluation set: `count` batches whose windows are spread evenly over `ids` (first window
 * at the start, last at the end), masked from mixSeeds(seed, "eval-window", i). Same arguments,
 * same batches, so evaluation numbers are comparable across runs.
 */
export function fixedEvalBatches(ids: Int32Array, options: EvalBatchOptions): MaskedBatch[] {
  const { count, batchSize, seqLen, seed, masking, maskTokenId } = options;
  checkShape(ids, seqLen, batchSize, maskTokenId);
  checkMasking(masking);
  if (!Number.isInteger(count) || count < 1) throw new Error(`count is ${count}; expected a positive number of batches`);
  const windows = count * batchSize;
  const span = ids.length - seqLen;
  const batches: MaskedBatch[] = [];
  for (let k = 0; k < count; k++) {
    const out = emptyBatch(batchSize, seqLen);
    for (let b = 0; b < batchSize; b++) {
      const i = k * batchSize + b;
      const start = windows === 1 ? 0 : Math.round((i * span) / (windows - 1));
      fillWindow(ids, start, b, out, masking, maskTokenId, new Rng(mixSeeds(seed, "eval-window", i)));
    }
    batches.push(out);
  }
  return batches;
}
