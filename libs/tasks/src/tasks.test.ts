import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, readVocabularyFile } from "@grpomesh/data";
import { SUDOKU_TOKENS, decodeGrid, isHeldOut, type SudokuSize } from "@grpomesh/sudoku";
import { CorpusData, HELD_OUT_FRACTION, TASKS, TASK_NAMES, loadTask } from "./index.ts";

const grids = (ids: Int32Array, T: number, size: SudokuSize) =>
  Array.from({ length: ids.length / T }, (_, i) => decodeGrid(ids.subarray(i * T, (i + 1) * T), size));

test("kjv: training batches resume from a cursor; evaluation batches are the same for every run seed", () => {
  const kjv = loadTask("kjv");
  const data = (seed: number) => kjv.data({ seqLen: 32, batchSize: 4, seed, evalBatches: 2 }) as CorpusData;
  const a = data(1);
  a.next();
  const cursor = a.cursor();
  const next = a.next();
  const b = data(1);
  b.seek(cursor);
  assert.deepEqual(b.next().inputs, next.inputs);
  const other = data(2);
  assert.notDeepEqual(other.next().inputs, data(1).next().inputs);
  assert.deepEqual(
    other.evalBatches().map((x) => x.inputs),
    a.evalBatches().map((x) => x.inputs),
  );
  // Held-out batches come from the held-out books: every window is a slice of their text.
  const text = (ids: Int32Array) => kjv.vocab.decode(ids);
  const held = text((a as unknown as { opts: { corpus: { heldout: Int32Array } } }).opts.corpus.heldout);
  for (const batch of a.evalBatches()) {
    for (let i = 0; i < batch.batchSize; i++) assert.ok(held.includes(text(batch.targets.subarray(i * 32, (i + 1) * 32))));
  }
  // The verifier: solved only when every masked character is the original's.
  const batch = a.evalBatches()[0]!;
  const row = (x: Int32Array) => x.subarray(0, 32);
  assert.equal(a.solved(row(batch.inputs), row(batch.targets), row(batch.targets)), true);
  const wrong = row(batch.targets).slice();
  const m = row(batch.inputs).findIndex((x) => x === kjv.vocab.maskTokenId);
  wrong[m] = wrong[m] === 3 ? 4 : 3;
  assert.equal(a.solved(row(batch.inputs), wrong, row(batch.targets)), false);
});

for (const [name, size, blanks] of [
  ["sudoku", 4, 10],
  ["sudoku9", 9, 10],
] as const) {
  test(`${name}: puzzles are masked blanks with their solutions, resume exactly, and the held-out grids never reach training`, () => {
    const task = loadTask(name);
    const T = task.seqLen!;
    assert.equal(T, size * size + size - 1);
    assert.deepEqual(task.vocab.tokens, SUDOKU_TOKENS);
    const data = (seed: number) => task.data({ seqLen: T, batchSize: 8, seed, evalBatches: 2 });
    const a = data(5);
    const first = a.next();
    for (let i = 0; i < first.inputs.length; i++) {
      assert.equal(first.mask[i], first.inputs[i] === task.vocab.maskTokenId ? 1 : 0);
      if (!first.mask[i]) assert.equal(first.inputs[i], first.targets[i]);
    }
    for (let r = 0; r < 8; r++)
      assert.equal(
        first.mask.subarray(r * T, (r + 1) * T).reduce((x, y) => x + y, 0),
        blanks,
      );
    const cursor = a.cursor();
    const second = a.next();
    const b = data(5);
    b.seek(cursor);
    assert.deepEqual(b.next().inputs, second.inputs);
    assert.throws(() => data(6).seek(cursor), /saved from stream .* resume with the same task/);
    assert.notDeepEqual(data(6).next().inputs, first.inputs);
    // The held-out set is the same whatever the seed, and made of held-out grids only; training never reads one.
    assert.deepEqual(
      data(6)
        .evalBatches()
        .map((x) => x.targets),
      a.evalBatches().map((x) => x.targets),
    );
    for (const batch of a.evalBatches()) for (const g of grids(batch.targets, T, size)) assert.ok(isHeldOut(g, HELD_OUT_FRACTION));
    const train = data(7);
    for (let i = 0; i < (size === 4 ? 60 : 10); i++) for (const g of grids(train.next().targets, T, size)) assert.ok(!isHeldOut(g, HELD_OUT_FRACTION));
    // The verifier: the solution solves its puzzle; a wrong digit or a kept [MASK] does not.
    const batch = a.evalBatches()[1]!;
    const row = (x: Int32Array, r: number) => x.slice(r * T, (r + 1) * T);
    for (let r = 0; r < batch.batchSize; r++) {
      const [input, target] = [row(batch.inputs, r), row(batch.targets, r)];
      assert.equal(a.solved(input, target, target), true);
      assert.equal(a.solved(input, input, target), false);
      const blank = input.findIndex((x) => x === task.vocab.maskTokenId);
      const wrong = target.slice();
      wrong[blank] = 3 + ((wrong[blank]! - 3 + 1) % size);
      assert.equal(a.solved(input, wrong, target), false);
    }
  });
}

test("sudoku: a generator of another length is refused with what to use", () => {
  assert.throws(
    () => loadTask("sudoku").data({ seqLen: 32, batchSize: 2, seed: 1, evalBatches: 1 }),
    /4×4 Sudoku is 19 tokens but the generator's seq_len is 32; use a generator made for this task/,
  );
});

test("every task's dataset metadata file holds the vocabulary the task speaks", () => {
  for (const name of TASK_NAMES) {
    const vocab = readVocabularyFile(join(REPO_ROOT, TASKS[name].dataset_meta));
    assert.ok(vocab.equals(loadTask(name).vocab), `${name}: ${TASKS[name].dataset_meta}`);
  }
});
