// Sudoku as the loop's data: training batches of puzzles from the train split (a resumable cursor),
// fixed held-out batches for evaluation, and the verifier. A puzzle is its grid's text form with
// every blank a [MASK]; the target is the solution; the mask marks the blanks.
import { puzzleStream, decodeGrid, encodeGrid, sequenceLength, verify, SUDOKU_MASK_ID, type SudokuSize } from "@grpomesh/sudoku";

/** Share of solution grids held out (by a hash of the grid: libs/sudoku's isHeldOut). */
export const HELD_OUT_FRACTION = 0.1;
/** The held-out puzzles are drawn with this seed, whatever the run's, so runs compare. */
export const EVAL_SEED = "sudoku-eval";

export interface SudokuBatch {
  batchSize: number;
  seqLen: number;
  inputs: Int32Array;
  targets: Int32Array;
  mask: Uint8Array;
}

/** Where the train stream continues: the next draw, and which stream it belongs to. */
export interface SudokuCursor {
  draw: number;
  stream: string;
}

export interface SudokuDataOptions {
  size: SudokuSize;
  blanks: number;
  batchSize: number;
  seed: number | bigint | string;
  evalBatches: number;
  /** Puzzles per held-out batch; default batchSize. */
  evalBatchSize?: number;
}

/** `count` puzzles of one split from `cursor` on, as one masked batch, and the cursor after them. */
export function puzzleBatch(
  o: { size: SudokuSize; blanks: number; seed: number | bigint | string; split: "train" | "heldout" },
  count: number,
  cursor = 0,
): { batch: SudokuBatch; cursor: number } {
  const T = sequenceLength(o.size);
  const batch: SudokuBatch = {
    batchSize: count,
    seqLen: T,
    inputs: new Int32Array(count * T),
    targets: new Int32Array(count * T),
    mask: new Uint8Array(count * T),
  };
  const stream = puzzleStream({ seed: o.seed, size: o.size, blanks: o.blanks, split: o.split, heldOutFraction: HELD_OUT_FRACTION, cursor });
  let next = cursor;
  for (let b = 0; b < count; b++) {
    const item = stream.next().value!;
    const at = b * T;
    encodeGrid(item.puzzle, batch.inputs.subarray(at, at + T));
    encodeGrid(item.solution, batch.targets.subarray(at, at + T));
    for (let t = at; t < at + T; t++) batch.mask[t] = batch.inputs[t] === SUDOKU_MASK_ID ? 1 : 0;
    next = item.cursor;
  }
  return { batch, cursor: next };
}

/** Does `completion` (a filled puzzle, token ids) solve `input` (the puzzle)? The plain TypeScript verifier. */
export function sudokuSolved(size: SudokuSize, input: Int32Array, completion: Int32Array): boolean {
  const puzzle = decodeGrid(input, size).map((v) => (Number.isNaN(v) ? 0 : v));
  return verify(decodeGrid(completion, size), puzzle).solved;
}

export class SudokuData {
  readonly seqLen: number;
  /** Identifies size, blanks, seed and batch size; stored in every cursor so a resume with others is refused. */
  readonly fingerprint: string;
  private draw = 0;
  private evalCache: SudokuBatch[] | undefined;

  constructor(private readonly o: SudokuDataOptions) {
    this.seqLen = sequenceLength(o.size);
    this.fingerprint = `sudoku size=${o.size} blanks=${o.blanks} seed=${String(o.seed)} batchSize=${o.batchSize} heldout=${HELD_OUT_FRACTION}`;
  }

  next(): SudokuBatch {
    const { batch, cursor } = puzzleBatch({ ...this.o, split: "train" }, this.o.batchSize, this.draw);
    this.draw = cursor;
    return batch;
  }

  cursor(): SudokuCursor {
    return { draw: this.draw, stream: this.fingerprint };
  }

  seek(cursor: SudokuCursor): void {
    if (!cursor || typeof cursor !== "object" || !Number.isSafeInteger(cursor.draw) || cursor.draw < 0) {
      throw new Error(`data cursor is ${JSON.stringify(cursor)}; expected {"draw": n, "stream": "…"} from a Sudoku run's checkpoint`);
    }
    if (cursor.stream !== this.fingerprint) {
      throw new Error(
        `data cursor was saved from stream "${cursor.stream}" but this stream is "${this.fingerprint}"; resume with the same task, blanks, seed and batch size`,
      );
    }
    this.draw = cursor.draw;
  }

  /** evalBatches × evalBatchSize held-out puzzles, the same for every run of this size and difficulty. */
  evalBatches(): SudokuBatch[] {
    if (!this.evalCache) {
      this.evalCache = [];
      let cursor = 0;
      for (let i = 0; i < this.o.evalBatches; i++) {
        const next = puzzleBatch({ ...this.o, seed: EVAL_SEED, split: "heldout" }, this.o.evalBatchSize ?? this.o.batchSize, cursor);
        this.evalCache.push(next.batch);
        cursor = next.cursor;
      }
    }
    return this.evalCache;
  }

  solved(input: Int32Array, completion: Int32Array): boolean {
    return sudokuSolved(this.o.size, input, completion);
  }
}
