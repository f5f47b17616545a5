import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { Rng } from "@grpomesh/rng";
import { inspectJudgeModel } from "@grpomesh/onnx-export";
import {
  SUDOKU_MASK_ID,
  SUDOKU_PAD_ID,
  SUDOKU_SLASH_ID,
  SUDOKU_TOKENS,
  cellPositions,
  decodeGrid,
  encodeGrid,
  generateGrid,
  sequenceLength,
  verify,
  type SudokuSize,
} from "./index.ts";
import { buildRuleJudge } from "./rule-judge.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** What the judge must say: the plain TypeScript verifier's fraction and validity, weighted. */
function expected(ids: Int32Array, size: SudokuSize, dense: number, bonus: number): number {
  const grid = decodeGrid(ids, size);
  const v = verify(
    grid,
    grid.map(() => 0),
  );
  return dense * v.fraction + bonus * (v.valid ? 1 : 0);
}

/** Solved grids, one-cell-off grids, grids with two cells swapped, random digits, and cells holding non-digits. */
function cases(size: SudokuSize, n: number, rng: Rng): Int32Array[] {
  const T = sequenceLength(size);
  const at = cellPositions(size);
  const out: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    const ids = encodeGrid(generateGrid(rng, size));
    const kind = i % 5;
    if (kind === 1) {
      const p = at[rng.nextInt(size * size)]!;
      ids[p] = 3 + ((ids[p]! - 3 + 1 + rng.nextInt(size - 1)) % size); // another digit 1..N
    } else if (kind === 2) {
      const [a, b] = [at[rng.nextInt(size * size)]!, at[rng.nextInt(size * size)]!];
      [ids[a], ids[b]] = [ids[b]!, ids[a]!];
    } else if (kind === 3) {
      for (const p of at) ids[p] = 3 + rng.nextInt(size);
    } else if (kind === 4) {
      const others = [SUDOKU_MASK_ID, SUDOKU_PAD_ID, SUDOKU_SLASH_ID, ...(size === 4 ? [3 + 4, 3 + 8] : [])];
      ids[at[rng.nextInt(size * size)]!] = others[rng.nextInt(others.length)]!;
    }
    assert.equal(ids.length, T);
    out.push(ids);
  }
  return out;
}

async function score(model: Uint8Array, rows: Int32Array[], T: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model);
  try {
    const data = new BigInt64Array(rows.length * T);
    rows.forEach((r, i) => r.forEach((x, t) => (data[i * T + t] = BigInt(x))));
    const out = await session.run({ tokens: new ort.Tensor("int64", data, [rows.length, T]) });
    return out.score!.data as Float32Array;
  } finally {
    await session.release();
  }
}

test("the rule judge equals the TypeScript verifier on 10,000+ grids: solved, one cell off, swapped, random, non-digit cells", async () => {
  const rng = new Rng("rule-judge");
  let checked = 0;
  const kinds = new Set<string>();
  for (const [size, n] of [
    [4, 6000],
    [9, 4500],
  ] as const) {
    for (const [dense, bonus] of [
      [1, 1],
      [0, 1],
      [0.5, 2],
    ]) {
      const rows = cases(size, dense === 1 ? n : 500, rng);
      const got = await score(buildRuleJudge({ size, dense, bonus }), rows, sequenceLength(size));
      rows.forEach((ids, i) => {
        const want = expected(ids, size, dense, bonus);
        assert.ok(Math.abs(got[i]! - want) < 1e-6, `${size}×${size} dense ${dense} bonus ${bonus} case ${i}: judge ${got[i]} vs verifier ${want}`);
        const v = verify(decodeGrid(ids, size), new Array(size * size).fill(0));
        kinds.add(v.valid ? "valid" : v.satisfied === 3 * size - 3 ? "one-off" : "invalid");
      });
      checked += rows.length;
    }
  }
  assert.ok(checked >= 10_000, `${checked} grids`);
  assert.deepEqual([...kinds].sort(), ["invalid", "one-off", "valid"]);
});

test("the rule judge meets the judge contract: sequence_scorer, the Sudoku vocabulary, fixed length, dynamic batch", async () => {
  for (const size of [4, 9] as const) {
    const bytes = buildRuleJudge({ size, version: "v-test" });
    const session = await ort.InferenceSession.create(bytes);
    const info = inspectJudgeModel(bytes, session);
    await session.release();
    assert.deepEqual(info.vocab, [...SUDOKU_TOKENS]);
    assert.equal(info.seqLen, sequenceLength(size));
    assert.equal(info.version, "v-test");
    assert.equal(info.modelType, "sequence_scorer");
  }
  // An id outside the vocabulary fails the run rather than scoring garbage.
  const bad = encodeGrid(generateGrid(new Rng(1), 4));
  bad[0] = SUDOKU_TOKENS.length;
  await assert.rejects(score(buildRuleJudge({ size: 4 }), [bad], 19));
  assert.throws(() => buildRuleJudge({ size: 5 as SudokuSize }), /expected 4 or 9/);
});

test("the bundled rule judges are what the builder writes now (rebuild: models/README.md)", () => {
  for (const [file, o] of [
    ["models/sudoku4/judge.onnx", { size: 4 }],
    ["models/sudoku4/solved-judge.onnx", { size: 4, dense: 0, bonus: 1 }],
    ["models/sudoku9/judge.onnx", { size: 9 }],
  ] as const) {
    assert.deepEqual(new Uint8Array(readFileSync(ROOT + file)), buildRuleJudge(o), `${file} is stale: rebuild it with npm run sudoku-judge (models/README.md)`);
  }
});
