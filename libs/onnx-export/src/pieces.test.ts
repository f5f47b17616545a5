import { test } from "node:test";
import assert from "node:assert/strict";
import { runInPieces } from "./pieces.ts";

test("rows run in pieces of whole rows up to the token budget; data concatenated, leading dims added", async () => {
  const calls: Array<[number, number]> = [];
  const out = await runInPieces(7, 10, 25, async (start, count) => {
    calls.push([start, count]);
    return { data: Float32Array.from({ length: count }, (_, i) => start + i), dims: [count] };
  });
  assert.deepEqual(calls, [
    [0, 2],
    [2, 2],
    [4, 2],
    [6, 1],
  ]);
  assert.deepEqual([...out.data], [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(out.dims, [7]);
  // 0 = one run; a budget below one row still runs one row at a time
  calls.length = 0;
  await runInPieces(3, 10, 0, async (start, count) => (calls.push([start, count]), { data: new Float32Array(count), dims: [count] }));
  assert.deepEqual(calls, [[0, 3]]);
  calls.length = 0;
  await runInPieces(2, 10, 5, async (start, count) => (calls.push([start, count]), { data: new Float32Array(count), dims: [count] }));
  assert.deepEqual(calls, [
    [0, 1],
    [1, 1],
  ]);
  // a piece that answers two values per row shows in the dims
  const wrong = await runInPieces(4, 10, 20, async (_start, count) => ({ data: new Float32Array(count * 2), dims: [count * 2] }));
  assert.deepEqual(wrong.dims, [8]);
});
