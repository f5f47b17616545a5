// Tasks: what a run trains on. A task bundles its vocabulary, a seeded, resumable stream of masked
// inputs with their targets, a held-out split training never reads, the verifier evaluation uses,
// and its bundled models and run config (settings.ts). The orchestrator and pretrain load one by name.
import { join } from "node:path";
import { DEFAULT_CORPUS_PATH, REPO_ROOT, Vocabulary, loadCorpus } from "@grpomesh/data";
import { SUDOKU_MASK_ID, SUDOKU_PAD_ID, SUDOKU_TOKENS, sequenceLength, type SudokuSize } from "@grpomesh/sudoku";
import { CorpusData, type CorpusDataOptions } from "./corpus-data.ts";
import { SudokuData } from "./sudoku-data.ts";
import { DEFAULT_BLANKS, TASKS, type TaskName } from "./settings.ts";

export { CorpusData, everyMaskRight, type CorpusDataOptions } from "./corpus-data.ts";
export { EVAL_SEED, HELD_OUT_FRACTION, SudokuData, puzzleBatch, sudokuSolved, type SudokuBatch, type SudokuCursor } from "./sudoku-data.ts";
export * from "./settings.ts";

/** A batch of masked inputs: [B·T] inputs (masked positions hold [MASK]), targets, and the mask. */
export interface TaskBatch {
  batchSize: number;
  seqLen: number;
  inputs: Int32Array;
  targets: Int32Array;
  mask: Uint8Array;
}

/** One task's data for one run: the shape of the GRPO loop's DataPort, plus the verifier. */
export interface TaskData {
  next(): TaskBatch;
  cursor(): unknown;
  seek(cursor: unknown): void;
  /** The fixed held-out batches (the same on every call and in every run of the task). */
  evalBatches(): TaskBatch[];
  /** The task's verifier: does `completion` (one sequence: `input` with its masks filled) solve `input`? */
  solved(input: Int32Array, completion: Int32Array, target: Int32Array): boolean;
}

export interface Task {
  name: TaskName;
  /** One line for logs: what the data is. */
  describe: string;
  vocab: Vocabulary;
  /** The sequence length every model of the task has (Sudoku), or null: the generator's seq_len (text windows). */
  seqLen: number | null;
  /** The data of a run: `seed` picks the training stream (the held-out set never depends on it). */
  data(o: DataOptions): TaskData;
  /** Absolute paths of the task's bundled files. */
  files: { generator: string; judge_model: string; run_config: string; dataset_meta: string };
}

/** What a run's data is made from (the kjv corpus comes from the task itself). */
export type DataOptions = Omit<CorpusDataOptions, "corpus">;

export interface TaskOptions {
  /** Sudoku: blanks per puzzle; 0 or absent: the task's default. */
  blanks?: number;
  /** kjv: the corpus file; empty or absent: the bundled one. */
  corpus?: string;
}

const sudokuVocab = () => new Vocabulary(SUDOKU_TOKENS, { maskTokenId: SUDOKU_MASK_ID, padTokenId: SUDOKU_PAD_ID });

/** Loads a task by name (the kjv corpus is read and checked here; Sudoku is generated as it is read). */
export function loadTask(name: TaskName, o: TaskOptions = {}): Task {
  const spec = TASKS[name];
  if (!spec) throw new Error(`unknown task "${String(name).slice(0, 40)}"; expected one of ${Object.keys(TASKS).join(", ")}`);
  const files = Object.fromEntries(
    Object.entries(spec)
      .filter(([k]) => k !== "doc")
      .map(([k, v]) => [k, join(REPO_ROOT, v)]),
  ) as Task["files"];
  if (name === "kjv") {
    const corpus = loadCorpus(o.corpus || DEFAULT_CORPUS_PATH);
    return {
      name,
      describe: `dataset ${corpus.meta.name}: ${corpus.train.length} train / ${corpus.heldout.length} held-out characters (held out: ${corpus.meta.split.heldout_books.join(", ")})`,
      vocab: corpus.vocab,
      seqLen: null,
      data: (d) => new CorpusData({ corpus, ...d }),
      files,
    };
  }
  const size: SudokuSize = name === "sudoku" ? 4 : 9;
  const blanks = o.blanks || DEFAULT_BLANKS[name];
  const T = sequenceLength(size);
  return {
    name,
    describe: `${size}×${size} Sudoku, ${blanks} blanks per puzzle, unique solutions; solution grids held out by hash`,
    vocab: sudokuVocab(),
    seqLen: T,
    data: ({ seqLen, batchSize, seed, evalBatches, evalBatchSize }) => {
      if (seqLen !== T)
        throw new Error(
          `a ${size}×${size} Sudoku is ${T} tokens but the generator's seq_len is ${seqLen}; use a generator made for this task (${spec.generator})`,
        );
      return new SudokuData({ size, blanks, batchSize, seed, evalBatches, evalBatchSize });
    },
    files,
  };
}
