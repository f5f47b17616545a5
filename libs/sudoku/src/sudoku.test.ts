import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "@grpomesh/rng";
import { countSolutions, formatGrid, generateGrid, isHeldOut, makePuzzle, parseGrid, puzzleStream, verify, type SudokuSize } from "./index.ts";

const SIZES: SudokuSize[] = [4, 9];

test("generated grids are complete and valid for many seeds, both sizes", () => {
  for (const size of SIZES) {
    for (let seed = 0; seed < 200; seed++) {
      const grid = generateGrid(new Rng(seed), size);
      const verdict = verify(grid, new Array(size * size).fill(0));
      assert.ok(verdict.solved && verdict.fraction === 1, `seed ${seed} size ${size}: ${formatGrid(grid, "_")}`);
    }
  }
});

test("every one of the 288 valid 4×4 grids can be generated", () => {
  const rng = new Rng("all-grids");
  const seen = new Set<string>();
  for (let i = 0; i < 5000 && seen.size < 288; i++) seen.add(formatGrid(generateGrid(rng, 4), "_"));
  assert.equal(seen.size, 288);
});

test("puzzles have exactly one solution, the blanks asked, and are minimal when more are asked", () => {
  for (const [size, asked] of [
    [4, 6],
    [9, 40],
  ] as const) {
    for (let seed = 0; seed < 20; seed++) {
      const rng = new Rng(seed);
      const solution = generateGrid(rng, size);
      const { puzzle, blanks } = makePuzzle(rng, solution, asked);
      assert.equal(blanks, asked);
      assert.equal(puzzle.filter((v) => v === 0).length, asked);
      assert.equal(countSolutions(puzzle), 1);
      assert.ok(puzzle.every((v, i) => v === 0 || v === solution[i]));
    }
  }
  for (const size of SIZES) {
    const rng = new Rng(`minimal-${size}`);
    const solution = generateGrid(rng, size);
    const { puzzle, blanks } = makePuzzle(rng, solution, size * size);
    assert.ok(blanks < size * size && blanks === puzzle.filter((v) => v === 0).length);
    assert.equal(countSolutions(puzzle), 1);
    // Asked for every cell: each given left is needed, blanking it allows a second solution.
    puzzle.forEach((v, i) => {
      if (v === 0) return;
      const fewer = puzzle.slice();
      fewer[i] = 0;
      assert.equal(countSolutions(fewer), 2, `given at cell ${i} could be blanked`);
    });
  }
});

test("countSolutions counts up to its limit and sees contradictions", () => {
  assert.equal(countSolutions(new Array(16).fill(0), 1000), 288);
  assert.equal(countSolutions(new Array(81).fill(0)), 2);
  const twoOnes = new Array(16).fill(0);
  twoOnes[0] = twoOnes[1] = 1;
  assert.equal(countSolutions(twoOnes), 0);
  assert.throws(() => countSolutions(new Array(15).fill(0)), /16 \(4×4\) or 81 \(9×9\)/);
});

test("a 9×9 puzzle takes well under 50 ms", () => {
  const rng = new Rng("speed");
  const started = performance.now();
  for (let i = 0; i < 20; i++) makePuzzle(rng, generateGrid(rng, 9), 81);
  const msEach = (performance.now() - started) / 20;
  assert.ok(msEach < 25, `${msEach.toFixed(1)} ms per minimal 9×9 puzzle`);
});

test("grids and puzzles are a function of the seed", () => {
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    const solution = generateGrid(rng, 9);
    return { solution, ...makePuzzle(rng, solution, 45) };
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7).solution, draw(8).solution);
});

test("a stream resumed from an item's cursor continues the uninterrupted stream", () => {
  for (const split of ["train", "heldout"] as const) {
    const options = { seed: 3, size: 4 as const, blanks: 8, split, heldOutFraction: 0.3 };
    const take = (stream: Generator<unknown>, n: number) => Array.from({ length: n }, () => stream.next().value);
    const whole = take(puzzleStream(options), 12) as Array<{ cursor: number }>;
    const resumed = take(puzzleStream({ ...options, cursor: whole[4]!.cursor }), 7);
    assert.deepEqual(resumed, whole.slice(5));
    assert.notDeepEqual(take(puzzleStream({ ...options, seed: 4 }), 12), whole);
  }
});

test("train and held-out never share a solution grid; the held-out share is near the fraction", () => {
  const fraction = 0.2;
  const solutions = (split: "train" | "heldout") => {
    const stream = puzzleStream({ seed: 11, size: 9, blanks: 0, split, heldOutFraction: fraction });
    return new Set(Array.from({ length: 1000 }, () => formatGrid(stream.next().value!.solution, "_")));
  };
  const train = solutions("train"),
    heldOut = solutions("heldout");
  assert.ok([...heldOut].every((grid) => !train.has(grid)));
  assert.ok(train.size > 900 && heldOut.size > 900, "draws should be mostly distinct 9×9 grids");
  // 4×4 has only 288 grids: both streams reuse them, and still never cross.
  const small = (split: "train" | "heldout") => {
    const stream = puzzleStream({ seed: 1, size: 4, blanks: 10, split, heldOutFraction: 0.25 });
    return new Set(Array.from({ length: 1000 }, () => formatGrid(stream.next().value!.solution, "_")));
  };
  const smallTrain = small("train");
  assert.ok([...small("heldout")].every((grid) => !smallTrain.has(grid)));
  const rng = new Rng("fraction");
  const draws = Array.from({ length: 2000 }, () => isHeldOut(generateGrid(rng, 9), fraction));
  const share = draws.filter(Boolean).length / draws.length;
  assert.ok(Math.abs(share - fraction) < 0.03, `held-out share ${share}`);
  assert.throws(() => isHeldOut(new Array(16).fill(0), 0.1), /no blanks/);
});

test("text form round-trips and refuses malformed text", () => {
  for (const size of SIZES) {
    const rng = new Rng(size);
    const { puzzle } = makePuzzle(rng, generateGrid(rng, size), 10);
    for (const blank of ["_", "?"]) assert.deepEqual(parseGrid(formatGrid(puzzle, blank), blank), puzzle);
  }
  assert.equal(formatGrid([1, 2, 0, 4, 3, 4, 1, 2, 2, 1, 4, 3, 4, 3, 2, 1], "_"), "12_4/3412/2143/4321");
  assert.throws(() => parseGrid("1234/3412/2143"), /3 rows; expected 4 or 9/);
  assert.throws(() => parseGrid("1234/3412/2143/432"), /row 4 has 3 cells; expected 4/);
  assert.throws(() => parseGrid("1234/3412/2153/4321"), /row 3, column 3 is "5"; expected a digit 1..4/);
  assert.throws(() => parseGrid("1234/3412/21?3/4321"), /row 3, column 3 is "\?"/);
  assert.throws(() => parseGrid("1234/3412/2143/4321", "12"), /expected one character/);
  assert.throws(() => formatGrid([1, 2, 3], "_"), /has 3 cells/);
});

test("verifier: solved, invalid, wrong given, incomplete, one cell off", () => {
  const solution = parseGrid("1234/3412/2143/4321");
  const puzzle = parseGrid("1_3_/_4_2/2_4_/_3_1");
  assert.deepEqual(verify(solution, puzzle), { complete: true, matchesGivens: true, satisfied: 12, fraction: 1, valid: true, solved: true });
  // A valid grid that ignores the givens is not a solution.
  const other = parseGrid("2143/4321/1234/3412");
  assert.equal(verify(other, puzzle).valid, true);
  assert.equal(verify(other, puzzle).solved, false);
  // Incomplete: the blank's row, column and box are unsatisfied.
  const blank = verify(puzzle, puzzle);
  assert.equal(blank.complete, false);
  assert.equal(blank.satisfied, 0);
  const oneBlank = solution.slice();
  oneBlank[4] = 0;
  assert.deepEqual(verify(oneBlank, puzzle), { complete: false, matchesGivens: true, satisfied: 9, fraction: 0.75, valid: false, solved: false });
  // One cell off (a blank cell given a wrong digit) breaks exactly its row, column and box.
  for (let seed = 0; seed < 50; seed++) {
    const rng = new Rng(seed);
    const grid = generateGrid(rng, 9);
    const { puzzle: p } = makePuzzle(rng, grid, 30);
    const cell = p.indexOf(0);
    const off = grid.slice();
    off[cell] = (grid[cell]! % 9) + 1;
    const verdict = verify(off, p);
    assert.deepEqual([verdict.complete, verdict.matchesGivens, verdict.valid, verdict.solved, verdict.satisfied], [true, true, false, false, 24]);
  }
  assert.throws(() => verify(solution, new Array(81).fill(0)), /candidate has 16 cells but the puzzle has 81/);
});

test("token form: encodeGrid/decodeGrid round-trip, blanks are [MASK], separators sit between rows, foreign tokens decode as invalid", async () => {
  const { SUDOKU_TOKENS, SUDOKU_MASK_ID, cellPositions, decodeGrid, encodeGrid, sequenceLength } = await import("./index.ts");
  for (const size of SIZES) {
    const rng = new Rng(size);
    const solution = generateGrid(rng, size);
    const { puzzle } = makePuzzle(rng, solution, size === 4 ? 8 : 30);
    const ids = encodeGrid(puzzle);
    assert.equal(ids.length, sequenceLength(size));
    const text = Array.from(ids, (id) => (id === SUDOKU_MASK_ID ? "_" : SUDOKU_TOKENS[id])).join("");
    assert.equal(text, formatGrid(puzzle, "_"));
    assert.deepEqual(decodeGrid(encodeGrid(solution), size), solution);
    const broken = encodeGrid(solution);
    broken[cellPositions(size)[5]!] = 2; // a separator in a cell
    const grid = decodeGrid(broken, size);
    assert.ok(Number.isNaN(grid[5]));
    assert.equal(
      verify(
        grid,
        grid.map(() => 0),
      ).valid,
      false,
    );
  }
});
