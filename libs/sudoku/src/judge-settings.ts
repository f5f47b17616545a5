// The rule-judge writer's settings (`npm run sudoku-judge -- --help`): a light module the docs generator imports.
import { setting, z } from "@grpomesh/config";

export const SUDOKU_JUDGE_ENV_PREFIX = "SUDOKU_JUDGE_";

export const SUDOKU_JUDGE_SETTINGS = {
  size: setting(
    z.int().refine((n) => n === 4 || n === 9, "4 or 9"),
    4,
    "grid side: 4 (2×2 boxes) or 9 (3×3 boxes)",
  ),
  dense: setting(z.number().min(-100).max(100), 1, "weight of the fraction of rows, columns and boxes holding each digit once"),
  bonus: setting(z.number().min(-100).max(100), 1, "added when every row, column and box is satisfied (a solved grid)"),
  version: setting(z.string().max(64), "", "grpomesh.version metadata; empty: sudoku<size>-rule-d<dense>-b<bonus>"),
  out: setting(z.string().min(1), "models/sudoku4/judge.onnx", "the ONNX file to write"),
};
