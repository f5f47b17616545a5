// Which task a run trains on, and each task's bundled defaults: a light module (no data is read), so
// `npm start`, the orchestrator, pretrain and the docs generator can all name tasks before loading one.
import { setting, z } from "@grpomesh/config";

/**
 * The tasks, each with the files it ships: the generator the policy and reference start from, the
 * judges (the launcher's `judge_model` syntax), the run config `npm start` reads, and the metadata
 * file whose vocabulary the reference checks. Paths are relative to the repository root.
 */
export const TASKS = {
  sudoku: {
    doc: "4×4 Sudoku: fill every blank of a puzzle with one solution; solved is checked by a program",
    generator: "models/sudoku4/generator",
    judge_model: "models/sudoku4/judge.onnx",
    run_config: "configs/sudoku.json",
    dataset_meta: "data/sudoku/sudoku.meta.json",
  },
  sudoku9: {
    doc: "9×9 Sudoku, the same rules on 3×3 boxes",
    generator: "models/sudoku9/generator",
    judge_model: "models/sudoku9/judge.onnx",
    run_config: "configs/sudoku9.json",
    dataset_meta: "data/sudoku/sudoku.meta.json",
  },
  kjv: {
    doc: "King James Bible text: fill masked characters, scored by a learned judge",
    generator: "models/generator",
    judge_model: "models/judge/model.onnx",
    run_config: "configs/kjv.json",
    dataset_meta: "data/corpus/kjv.meta.json",
  },
} as const;

export type TaskName = keyof typeof TASKS;
export const TASK_NAMES = Object.keys(TASKS) as [TaskName, ...TaskName[]];
export const DEFAULT_TASK: TaskName = "sudoku";

/** Blanks per puzzle when `blanks` is 0: about the middle of what unique puzzles allow. */
export const DEFAULT_BLANKS = { sudoku: 10, sudoku9: 10 } as const;

export const TASK_SETTINGS = {
  task: setting(z.enum(TASK_NAMES), DEFAULT_TASK, `what to train on: ${TASK_NAMES.map((n) => `${n} (${TASKS[n].doc})`).join("; ")}`),
  blanks: setting(
    z.int().min(0).max(64),
    0,
    `Sudoku difficulty: blanks per puzzle (a puzzle whose grid allows fewer gets fewer); 0: ${DEFAULT_BLANKS.sudoku} on 4×4, ${DEFAULT_BLANKS.sudoku9} on 9×9`,
  ),
  corpus: setting(z.string(), "", "kjv: the corpus file (its .meta.json beside it); empty: data/corpus/kjv.txt"),
};
