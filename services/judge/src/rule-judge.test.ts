// The bundled Sudoku rule judge (libs/sudoku, an ONNX graph with no learned weights) served by the
// unchanged judge service: a solved grid scores 2, one wrong digit 9/12, over gRPC.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DataType, JudgeService } from "@grpomesh/proto";
import { REPO_ROOT } from "@grpomesh/data";
import { createClient } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { Rng } from "@grpomesh/rng";
import { SUDOKU_TOKENS, cellPositions, encodeGrid, generateGrid } from "@grpomesh/sudoku";
import { startJudgeServer } from "./judge-server.ts";

test("the judge service serves models/sudoku4/judge.onnx: 2 for a solved grid, 0.75 with one cell off", async () => {
  const judge = await startJudgeServer({
    address: "127.0.0.1:0",
    metrics_port: "off",
    model: "sudoku4/judge.onnx",
    model_repository: join(REPO_ROOT, "models"),
  });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000 });
  try {
    const info = await client.info({});
    assert.deepEqual(info.vocab, [...SUDOKU_TOKENS]);
    assert.equal(info.seqLen, 19);
    const solved = encodeGrid(generateGrid(new Rng(3), 4));
    const off = solved.slice();
    const p = cellPositions(4)[6]!;
    off[p] = off[p] === 3 ? 4 : 3;
    const res = await client.score({ tokens: encodeTensor(Int32Array.from([...solved, ...off]), [2, 19]) });
    assert.deepEqual([...decodeTensor(res.scores, { name: "scores", dtype: DataType.FLOAT32 }).values], [2, 0.75]);
    assert.match(res.modelVersion, /^sudoku4-rule-d1-b1\+sha256:[0-9a-f]{12}$/);
  } finally {
    client.close();
    await judge.shutdown();
  }
});
