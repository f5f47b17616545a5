// Sudoku as a verifiable task: seeded grids and unique-solution puzzles for 4×4 (2×2 boxes) and
// 9×9 (3×3 boxes), a verifier, a text form, a held-out split by solution grid and a resumable stream.
// A grid is row-major numbers, 1..N for digits and 0 for a blank.
import { createHash } from "node:crypto";
import { mixSeeds, Rng } from "@grpomesh/rng";

export type Grid = number[];
export type SudokuSize = 4 | 9;

const BOX_SIDE: Record<number, number> = { 4: 2, 9: 3 };

/** The grid's side length, from its cell count (16 or 81). */
export function gridSize(grid: readonly number[]): SudokuSize {
  const size = Math.round(Math.sqrt(grid.length));
  if (!BOX_SIDE[size] || size * size !== grid.length) throw new Error(`Sudoku grid has ${grid.length} cells; expected 16 (4×4) or 81 (9×9), row-major`);
  return size as SudokuSize;
}

/** Row, column and box of every cell. */
function unitsOfCells(size: number): { row: Uint8Array; col: Uint8Array; box: Uint8Array } {
  const side = BOX_SIDE[size]!;
  const row = new Uint8Array(size * size),
    col = new Uint8Array(size * size),
    box = new Uint8Array(size * size);
  for (let i = 0; i < size * size; i++) {
    row[i] = Math.floor(i / size);
    col[i] = i % size;
    box[i] = Math.floor(row[i]! / side) * side + Math.floor(col[i]! / side);
  }
  return { row, col, box };
}

function popcount(x: number): number {
  let k = 0;
  for (; x; x &= x - 1) k++;
  return k;
}

/**
 * Backtracking over bitmasks, always branching on the blank with the fewest candidates. Stops at
 * `limit` solutions; with an rng the candidates are tried in random order (how grids are generated).
 */
function search(grid: readonly number[], limit: number, rng?: Rng): { count: number; first?: Grid } {
  const size = gridSize(grid);
  const { row, col, box } = unitsOfCells(size);
  const full = (1 << size) - 1;
  const cells = grid.slice();
  const rows = new Int32Array(size),
    cols = new Int32Array(size),
    boxes = new Int32Array(size);
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i]!;
    if (v === 0) continue;
    if (!Number.isInteger(v) || v < 1 || v > size) throw new Error(`Sudoku cell ${i} holds ${v}; expected 0 (blank) or a digit 1..${size}`);
    const bit = 1 << (v - 1);
    if ((rows[row[i]!]! | cols[col[i]!]! | boxes[box[i]!]!) & bit) return { count: 0 };
    rows[row[i]!]! |= bit;
    cols[col[i]!]! |= bit;
    boxes[box[i]!]! |= bit;
  }
  let count = 0;
  let first: Grid | undefined;
  const dfs = (): boolean => {
    let best = -1,
      bestMask = 0,
      bestCount = size + 1;
    for (let i = 0; i < cells.length && bestCount > 1; i++) {
      if (cells[i] !== 0) continue;
      const mask = full & ~(rows[row[i]!]! | cols[col[i]!]! | boxes[box[i]!]!);
      const k = popcount(mask);
      if (k < bestCount) [best, bestMask, bestCount] = [i, mask, k];
    }
    if (best < 0) {
      count++;
      first ??= cells.slice();
      return count >= limit;
    }
    const digits: number[] = [];
    for (let d = 1; d <= size; d++) if (bestMask & (1 << (d - 1))) digits.push(d);
    if (rng) rng.shuffle(digits);
    const [r, c, b] = [row[best]!, col[best]!, box[best]!];
    for (const d of digits) {
      const bit = 1 << (d - 1);
      cells[best] = d;
      rows[r]! |= bit;
      cols[c]! |= bit;
      boxes[b]! |= bit;
      const stop = dfs();
      cells[best] = 0;
      rows[r]! &= ~bit;
      cols[c]! &= ~bit;
      boxes[b]! &= ~bit;
      if (stop) return true;
    }
    return false;
  };
  dfs();
  return { count, first };
}

/** How many solutions the grid (0 = blank) has, counting no further than `limit`. */
export function countSolutions(grid: readonly number[], limit = 2): number {
  return search(grid, limit).count;
}

/** A random valid solution grid: backtracking with candidates in random order, so every valid grid can come out. */
export function generateGrid(rng: Rng, size: SudokuSize): Grid {
  if (!BOX_SIDE[size]) throw new Error(`Sudoku size is ${size}; expected 4 (2×2 boxes) or 9 (3×3 boxes)`);
  return search(new Array<number>(size * size).fill(0), 1, rng).first!;
}

/**
 * Blanks cells of `solution` in random order, keeping each blank only while the puzzle still has
 * exactly one solution, until `blanks` are blank. When more are asked than that order allows, the
 * result is minimal: no given left can be blanked without a second solution.
 */
export function makePuzzle(rng: Rng, solution: readonly number[], blanks: number): { puzzle: Grid; blanks: number } {
  if (!verify(solution, solution).solved) throw new Error(`makePuzzle needs a complete, valid solution grid; got ${formatGrid(solution, "_")}`);
  if (!Number.isInteger(blanks) || blanks < 0) throw new Error(`blanks is ${blanks}; expected a non-negative integer (the puzzle's difficulty)`);
  const puzzle = solution.slice();
  let got = 0;
  for (const i of rng.shuffle(puzzle.map((_, i) => i))) {
    if (got >= blanks) break;
    puzzle[i] = 0;
    if (countSolutions(puzzle) === 1) got++;
    else puzzle[i] = solution[i]!;
  }
  return { puzzle, blanks: got };
}

export interface Verdict {
  /** Every cell holds a digit 1..N. */
  complete: boolean;
  /** Every given of the puzzle is kept. */
  matchesGivens: boolean;
  /** Rows, columns and boxes (3·N units) that hold each digit 1..N exactly once; a unit with a blank or an out-of-range value is not satisfied. */
  satisfied: number;
  /** satisfied / 3N: the dense score. */
  fraction: number;
  /** Every unit satisfied (so also complete). */
  valid: boolean;
  /** valid and matchesGivens: the puzzle is solved. */
  solved: boolean;
}

/** Checks a candidate solution of `puzzle` (the grid with 0 for blanks). */
export function verify(candidate: readonly number[], puzzle: readonly number[]): Verdict {
  const size = gridSize(candidate);
  if (puzzle.length !== candidate.length)
    throw new Error(`candidate has ${candidate.length} cells but the puzzle has ${puzzle.length}; expected the same size`);
  const { row, col, box } = unitsOfCells(size);
  const seen = new Int32Array(3 * size);
  let complete = true,
    matchesGivens = true;
  candidate.forEach((v, i) => {
    if (puzzle[i] !== 0 && puzzle[i] !== v) matchesGivens = false;
    if (!Number.isInteger(v) || v < 1 || v > size) complete = false;
    else for (const unit of [row[i]!, size + col[i]!, 2 * size + box[i]!]) seen[unit]! |= 1 << (v - 1);
  });
  const satisfied = seen.filter((mask) => mask === (1 << size) - 1).length;
  const valid = satisfied === 3 * size;
  return { complete, matchesGivens, satisfied, fraction: satisfied / (3 * size), valid, solved: valid && matchesGivens };
}

function checkBlankChar(blankChar: string): void {
  if (blankChar.length !== 1 || /[1-9/]/.test(blankChar)) throw new Error(`blank character is "${blankChar}"; expected one character other than 1..9 and "/"`);
}

/** Rows separated by "/", digits 1..N, blanks as `blankChar`: "12_4/3_12/…". */
export function formatGrid(grid: readonly number[], blankChar: string): string {
  const size = gridSize(grid);
  checkBlankChar(blankChar);
  const rows: string[] = [];
  for (let r = 0; r < size; r++)
    rows.push(
      grid
        .slice(r * size, (r + 1) * size)
        .map((v) => (v === 0 ? blankChar : String(v)))
        .join(""),
    );
  return rows.join("/");
}

/** The inverse of formatGrid; refuses anything but N rows of N digits 1..N or `blankChar`. */
export function parseGrid(text: string, blankChar = "_"): Grid {
  checkBlankChar(blankChar);
  const rows = text.split("/");
  const size = rows.length;
  if (!BOX_SIDE[size]) throw new Error(`Sudoku text "${text}" has ${size} rows; expected 4 or 9 rows separated by "/"`);
  return rows.flatMap((line, r) => {
    const chars = [...line];
    if (chars.length !== size) throw new Error(`Sudoku text "${text}": row ${r + 1} has ${chars.length} cells; expected ${size}`);
    return chars.map((ch, c) => {
      if (ch === blankChar) return 0;
      const v = Number(ch);
      if (!/^[1-9]$/.test(ch) || v > size)
        throw new Error(`Sudoku text "${text}": row ${r + 1}, column ${c + 1} is "${ch}"; expected a digit 1..${size} or the blank "${blankChar}"`);
      return v;
    });
  });
}

/**
 * Held out when sha256 of the solution grid's text, read as a fraction in [0, 1), is below
 * `fraction`. It depends on the solution alone, so every puzzle of a held-out grid is held out.
 */
export function isHeldOut(solution: readonly number[], fraction: number): boolean {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`held-out fraction is ${fraction}; expected a number in [0, 1]`);
  if (solution.includes(0)) throw new Error(`isHeldOut takes the solution grid, with no blanks; got ${formatGrid(solution, "_")}`);
  const digest = createHash("sha256").update(formatGrid(solution, "_")).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48 < fraction;
}

export interface PuzzleStreamOptions {
  seed: number | bigint | string;
  size: SudokuSize;
  /** Blanks asked per puzzle (the difficulty); a puzzle gets fewer when its grid allows no more. */
  blanks: number;
  split: "train" | "heldout";
  heldOutFraction: number;
  /** Resume point: the `cursor` of the last item read; 0 (the default) starts at the beginning. */
  cursor?: number;
}

export interface StreamPuzzle {
  puzzle: Grid;
  solution: Grid;
  blanks: number;
  /** Save this to resume: puzzleStream({ ...options, cursor }) continues with the next item. */
  cursor: number;
}

/**
 * Puzzles of one split. Draw i is a pure function of (seed, size, blanks, i); draws whose grid belongs
 * to the other split are skipped, and each item's cursor is its draw number + 1.
 */
export function* puzzleStream(options: PuzzleStreamOptions): Generator<StreamPuzzle> {
  const { seed, size, blanks, split, heldOutFraction, cursor = 0 } = options;
  if (split !== "train" && split !== "heldout") throw new Error(`split is "${String(split)}"; expected "train" or "heldout"`);
  if (!Number.isSafeInteger(cursor) || cursor < 0) throw new Error(`cursor is ${cursor}; expected a non-negative integer from a previous item's cursor`);
  // Stop rather than spin when the split is empty (a 4×4 grid set has only 288 grids).
  const maxSkips = 100_000;
  for (let draw = cursor, skipped = 0; ; draw++) {
    const rng = new Rng(mixSeeds(seed, "sudoku", size, blanks, draw));
    const solution = generateGrid(rng, size);
    if (isHeldOut(solution, heldOutFraction) !== (split === "heldout")) {
      if (++skipped > maxSkips)
        throw new Error(`no ${split} puzzle in ${maxSkips} draws with heldOutFraction ${heldOutFraction}; choose a fraction that leaves that split grids`);
      continue;
    }
    skipped = 0;
    yield { ...makePuzzle(rng, solution, blanks), solution, cursor: draw + 1 };
  }
}

/**
 * The vocabulary every Sudoku model speaks (4×4 and 9×9 alike), in id order: the two specials of
 * libs/data's vocabulary, the row separator, then the digits. A blank is the [MASK] token.
 */
export const SUDOKU_TOKENS: readonly string[] = Object.freeze(["[PAD]", "[MASK]", "/", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
export const SUDOKU_PAD_ID = 0;
export const SUDOKU_MASK_ID = 1;
export const SUDOKU_SLASH_ID = 2;
/** Token id of digit d (1..9). */
export const digitId = (d: number): number => 2 + d;

/** Length of a grid's text form in tokens: N rows of N cells, N−1 separators (19 for 4×4, 89 for 9×9). */
export function sequenceLength(size: SudokuSize): number {
  return size * size + size - 1;
}

/** Position in the token sequence of each cell, row-major (cell r·N+c sits at r·(N+1)+c). */
export function cellPositions(size: SudokuSize): Int32Array {
  const out = new Int32Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(i / size) * (size + 1) + (i % size);
  return out;
}

/** A grid as token ids in the text form; blanks (0) become [MASK]. */
export function encodeGrid(grid: readonly number[], out: Int32Array = new Int32Array(sequenceLength(gridSize(grid)))): Int32Array {
  const size = gridSize(grid);
  if (out.length !== sequenceLength(size)) throw new Error(`buffer has ${out.length} tokens; expected ${sequenceLength(size)} for a ${size}×${size} grid`);
  out.fill(SUDOKU_SLASH_ID);
  const at = cellPositions(size);
  grid.forEach((v, i) => (out[at[i]!] = v === 0 ? SUDOKU_MASK_ID : digitId(v)));
  return out;
}

/**
 * The grid a token sequence spells: each cell's digit, or NaN for any other token in a cell
 * (a [MASK], a separator, a digit above N) — which `verify` counts as neither complete nor valid.
 */
export function decodeGrid(ids: ArrayLike<number>, size: SudokuSize): Grid {
  if (ids.length !== sequenceLength(size)) throw new Error(`sequence has ${ids.length} tokens; expected ${sequenceLength(size)} for a ${size}×${size} grid`);
  return Array.from(cellPositions(size), (p) => {
    const d = ids[p]! - 2;
    return d >= 1 && d <= size ? d : Number.NaN;
  });
}
