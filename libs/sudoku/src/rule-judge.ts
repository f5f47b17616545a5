// The Sudoku verifier as an ONNX sequence scorer (docs/judge-contract.md), built with the project's
// graph builder: no learned weights, so the unchanged judge service serves the rules themselves.
//   score = dense · (satisfied units / 3N) + bonus · [all 3N units satisfied]
// A unit (row, column, box) is satisfied when it holds each digit 1..N exactly once; a cell holding
// any other token ([MASK], "/", [PAD], a digit above N) counts as no digit. The judge sees only the
// filled grid, not the puzzle — but the policy never changes a given, and every puzzle has one
// solution, so a valid grid that keeps the givens is that solution.
import { GraphBuilder, TensorProto_DataType } from "@grpomesh/autodiff";
import { SUDOKU_TOKENS, cellPositions, digitId, sequenceLength, type SudokuSize } from "./index.ts";

export interface RuleJudgeOptions {
  size: SudokuSize;
  /** Weight of the dense score, the fraction of units satisfied (default 1). */
  dense?: number;
  /** Added for a fully valid grid (default 1). */
  bonus?: number;
  /** `grpomesh.version` metadata (the judge reports it, with the file's hash, as its version). */
  version?: string;
}

/** Unit u's membership of token position t, [3N, T]: rows, then columns, then boxes. */
function unitMatrix(size: SudokuSize): Float32Array {
  const T = sequenceLength(size);
  const side = size === 4 ? 2 : 3;
  const at = cellPositions(size);
  const m = new Float32Array(3 * size * T);
  for (let cell = 0; cell < size * size; cell++) {
    const r = Math.floor(cell / size),
      c = cell % size;
    const box = Math.floor(r / side) * side + Math.floor(c / side);
    for (const unit of [r, size + c, 2 * size + box]) m[unit * T + at[cell]!] = 1;
  }
  return m;
}

/** The rule judge's ONNX bytes: input `tokens` int64 [batch, T], output `score` float32 [batch]. */
export function buildRuleJudge(o: RuleJudgeOptions): Uint8Array {
  const { size, dense = 1, bonus = 1 } = o;
  if (size !== 4 && size !== 9) throw new Error(`Sudoku size is ${String(size)}; expected 4 or 9`);
  for (const [k, v] of [
    ["dense", dense],
    ["bonus", bonus],
  ] as const)
    if (!Number.isFinite(v)) throw new Error(`${k} is ${v}; expected a finite number`);
  const T = sequenceLength(size);
  const V = SUDOKU_TOKENS.length;
  const g = new GraphBuilder();
  const tokens = g.input("tokens", TensorProto_DataType.INT64, ["batch", T]);
  // Token → one-hot digit row (zeros for every non-digit); Gather refuses an id outside the vocabulary.
  const table = new Float32Array(V * size);
  for (let d = 1; d <= size; d++) table[digitId(d) * size + d - 1] = 1;
  const digits = g.node("Gather", [g.constant("digit_table", [V, size], table), tokens], { attrs: { axis: 0 } }); // [batch, T, N]
  const counts = g.node("MatMul", [g.constant("units", [3 * size, T], unitMatrix(size)), digits]); // [batch, 3N, N]
  // N cells hold at most N digits, so "every digit at least once" is "every digit exactly once".
  const satisfied = g.node("ReduceMin", [counts], { attrs: { axes: [2], keepdims: 0 } }); // [batch, 3N] in {0, 1}
  const fraction = g.node("ReduceMean", [satisfied], { attrs: { axes: [1], keepdims: 0 } });
  const valid = g.node("ReduceMin", [satisfied], { attrs: { axes: [1], keepdims: 0 } });
  const scale = (x: string, w: number) => g.node("Mul", [x, g.constant("w", [], new Float32Array([w]))]);
  const score = g.node("Add", [scale(fraction, dense), scale(valid, bonus)]);
  g.output(score, "score", TensorProto_DataType.FLOAT, ["batch"]);
  const name = `sudoku${size}-rule`;
  return g.toModel({
    graphName: name,
    docString: `Sudoku ${size}×${size} rule judge: ${dense}·(satisfied units / ${3 * size}) + ${bonus}·[all satisfied]`,
    metadata: {
      "grpomesh.model_type": "sequence_scorer",
      "grpomesh.vocab": JSON.stringify(SUDOKU_TOKENS),
      "grpomesh.version": o.version ?? `${name}-d${dense}-b${bonus}`,
      "grpomesh.name": name,
      "grpomesh.rule": JSON.stringify({ size, dense, bonus, score: "dense * satisfied_units / (3 * size) + bonus * all_units_satisfied" }),
    },
  });
}
