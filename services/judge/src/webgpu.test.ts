// The judge on onnxruntime's WebGPU provider scores what it scores on the CPU provider (within
// float32 tolerance), and its start says which adapter serves and that every node runs on WebGPU.
// Tiny models; without a Vulkan adapter the tests skip with the reason, in CI they must run.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { needsWebgpu } from "@grpomesh/onnx-export/testing";
import { buildRuleJudge } from "@grpomesh/sudoku/rule-judge";
import { startJudgeServer } from "./judge-server.ts";
import { SEQ_LEN, directScores, randomIds, tempRepository, testJudgeOptions, tinyScorer } from "./test/fixtures.ts";

const repo = tempRepository("judge-webgpu-");
after(() => repo.remove());

test("WebGPU: the judge's scores equal the CPU provider's, and the start reports adapter and placement", { timeout: 300_000 }, async (t) => {
  if (!needsWebgpu(t)) return;
  const bytes = tinyScorer("webgpu-1", 3);
  const path = repo.write("tiny.onnx", bytes);
  const judge = await startJudgeServer(testJudgeOptions(repo.root, { model: path, execution_provider: "webgpu", log: () => {} }));
  try {
    assert.equal(judge.provider.provider, "webgpu");
    assert.ok(judge.provider.adapter, "no adapter reported");
    const model = judge.slot.current!;
    assert.equal(model.executionProvider, "webgpu");
    assert.match(model.placement, /^all \d+ nodes on webgpu$/);
    const rows = 24;
    const ids = randomIds(rows, SEQ_LEN, 9);
    const want = await directScores(bytes, ids, rows, SEQ_LEN);
    const got = await model.run(
      BigInt64Array.from(ids, (v) => BigInt(v)),
      rows,
      SEQ_LEN,
    );
    let worst = 0;
    for (let i = 0; i < rows; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
    // float32 in another order on another device: 1e-5 relative
    assert.ok(worst <= 1e-5, `scores differ from the CPU provider's by ${worst} (relative)`);
    assert.ok(new Set(want).size > 1, "the test model scores every sequence alike: it would not notice a wrong score");
  } finally {
    await judge.shutdown(0);
  }
});

test("WebGPU: the Sudoku rule judge (Gather, MatMul, ReduceMin) runs entirely on WebGPU and scores as on the CPU", { timeout: 300_000 }, async (t) => {
  if (!needsWebgpu(t)) return;
  const bytes = buildRuleJudge({ size: 4, dense: 1, bonus: 1, version: "webgpu-rule" });
  const path = repo.write("rule.onnx", bytes);
  const judge = await startJudgeServer(testJudgeOptions(repo.root, { model: path, execution_provider: "webgpu", log: () => {} }));
  try {
    const model = judge.slot.current!;
    assert.match(model.placement, /^all \d+ nodes on webgpu$/);
    const seqLen = model.info.seqLen!;
    const rows = 16;
    const ids = randomIds(rows, seqLen, 4, model.info.vocab.length);
    const want = await directScores(bytes, ids, rows, seqLen);
    const got = await model.run(
      BigInt64Array.from(ids, (v) => BigInt(v)),
      rows,
      seqLen,
    );
    for (let i = 0; i < rows; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-6, `row ${i}: webgpu ${got[i]} vs cpu ${want[i]}`);
  } finally {
    await judge.shutdown(0);
  }
});

test("WebGPU: swapping models again and again releases each one (resident memory levels off)", { timeout: 300_000 }, async (t) => {
  if (!needsWebgpu(t)) return;
  const paths = [repo.write("swap-a.onnx", tinyScorer("swap-a", 21)), repo.write("swap-b.onnx", tinyScorer("swap-b", 22))];
  const judge = await startJudgeServer(testJudgeOptions(repo.root, { model: paths[0], execution_provider: "webgpu", log: () => {} }));
  try {
    const swap = async (n: number) => {
      await judge.loadModel(paths[n % 2]!);
      const model = judge.slot.acquire();
      try {
        // a fresh array per run: run() transfers the ids' buffer to the session's worker
        const ids = BigInt64Array.from(randomIds(8, SEQ_LEN, n), (v) => BigInt(v));
        assert.equal((await model.run(ids, 8, SEQ_LEN)).length, 8);
      } finally {
        model.release();
      }
    };
    for (let n = 0; n < 6; n++) await swap(n);
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let n = 0; n < 16; n++) await swap(n);
    global.gc?.();
    const grown = (process.memoryUsage().rss - before) / 2 ** 20;
    // a model that is never released keeps its session, its worker thread and its device buffers:
    // tens of MiB over 16 swaps; the bound leaves room for allocator noise
    assert.ok(grown < 60, `resident memory grew ${grown.toFixed(1)} MiB over 16 swaps`);
  } finally {
    await judge.shutdown(0);
  }
});
