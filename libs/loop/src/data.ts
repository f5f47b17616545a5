// The loop's data port over libs/data: training batches from the train split (resumable cursor),
// fixed evaluation batches from the held-out split.
import { DEFAULT_MASKING, MaskedBatchStream, fixedEvalBatches, type Corpus, type MaskedBatch, type MaskingSpec, type StreamCursor } from "@grpomesh/data";
import { mixSeeds } from "@grpomesh/rng";
import type { DataPort } from "./ports.ts";

export interface CorpusDataOptions {
  corpus: Corpus;
  seqLen: number;
  batchSize: number;
  seed: number;
  evalBatches: number;
  masking?: MaskingSpec;
}

export class CorpusData implements DataPort<StreamCursor> {
  private readonly stream: MaskedBatchStream;
  private evalCache: MaskedBatch[] | undefined;

  constructor(private readonly opts: CorpusDataOptions) {
    const maskTokenId = opts.corpus.vocab.maskTokenId;
    this.stream = new MaskedBatchStream({
      ids: opts.corpus.train,
      seqLen: opts.seqLen,
      batchSize: opts.batchSize,
      seed: mixSeeds(opts.seed, "grpo-data"),
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
      batchSize: this.opts.batchSize,
      seqLen: this.opts.seqLen,
      seed: mixSeeds("grpo-eval"), // the same held-out set for every run, so runs compare
      masking: this.opts.masking ?? DEFAULT_MASKING,
      maskTokenId: this.opts.corpus.vocab.maskTokenId,
    });
    return this.evalCache;
  }
}
