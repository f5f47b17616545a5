// The KJV task's data over libs/data: training windows from the train split (resumable cursor),
// fixed evaluation windows from the held-out books, and "solved" as every masked character right.
import { DEFAULT_MASKING, MaskedBatchStream, fixedEvalBatches, type Corpus, type MaskedBatch, type MaskingSpec, type StreamCursor } from "@grpomesh/data";
import { mixSeeds } from "@grpomesh/rng";

export interface CorpusDataOptions {
  corpus: Corpus;
  seqLen: number;
  batchSize: number;
  /** Picks the training stream (the held-out set never depends on it). */
  seed: number | bigint | string;
  evalBatches: number;
  /** Inputs per held-out batch; default batchSize. */
  evalBatchSize?: number;
  /** kjv: which positions of a window are masked; default libs/data's DEFAULT_MASKING (Sudoku masks its blanks). */
  masking?: MaskingSpec;
}

export class CorpusData {
  private readonly stream: MaskedBatchStream;
  private evalCache: MaskedBatch[] | undefined;

  constructor(private readonly opts: CorpusDataOptions) {
    const maskTokenId = opts.corpus.vocab.maskTokenId;
    this.stream = new MaskedBatchStream({
      ids: opts.corpus.train,
      seqLen: opts.seqLen,
      batchSize: opts.batchSize,
      seed: opts.seed,
      masking: opts.masking ?? DEFAULT_MASKING,
      maskTokenId,
    });
  }

  next(): MaskedBatch {
    return this.stream.next();
  }

  cursor(): StreamCursor {
    return this.stream.cursor;
  }

  seek(cursor: StreamCursor): void {
    this.stream.seek(cursor);
  }

  evalBatches(): MaskedBatch[] {
    this.evalCache ??= fixedEvalBatches(this.opts.corpus.heldout, {
      count: this.opts.evalBatches,
      batchSize: this.opts.evalBatchSize ?? this.opts.batchSize,
      seqLen: this.opts.seqLen,
      seed: mixSeeds("grpo-eval"), // the same held-out set for every run, so runs compare
      masking: this.opts.masking ?? DEFAULT_MASKING,
      maskTokenId: this.opts.corpus.vocab.maskTokenId,
    });
    return this.evalCache;
  }

  solved(input: Int32Array, completion: Int32Array, target: Int32Array): boolean {
    return everyMaskRight(input, completion, target, this.opts.corpus.vocab.maskTokenId);
  }
}

/** Every masked position of `input` holds the target's token in `completion`: an exact fill. */
export function everyMaskRight(input: Int32Array, completion: Int32Array, target: Int32Array, maskTokenId: number): boolean {
  for (let t = 0; t < input.length; t++) if (input[t] === maskTokenId && completion[t] !== target[t]) return false;
  return true;
}
