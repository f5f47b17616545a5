// Health through a judge's life (no model → LoadModel → SERVING), the parallel scheduler, and a
// start model that breaks the contract.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { DataType, JudgeService } from "@grpomesh/proto";
import { checkHealth, createClient, RpcCallError, Status } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { cudaProviderInstalled } from "@grpomesh/onnx/providers";
import { startJudgeServer } from "./judge-server.ts";
import { directScores, generatorModel, randomIds, SEQ_LEN, tempRepository, tinyScorer } from "./test/fixtures.ts";

const repo = tempRepository();
const modelA = tinyScorer("a1", 1);
const pathA = repo.write("a.onnx", modelA);
const genPath = repo.write("gen.onnx", generatorModel());
after(() => repo.remove());

test("without a model the judge is NOT_SERVING and answers UNAVAILABLE; LoadModel makes it SERVING", async () => {
  const judge = await startJudgeServer({ address: "127.0.0.1:0", metricsPort: null, sessions: 1, threads: 1 });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000 });
  try {
    assert.equal(await checkHealth(judge.address), "NOT_SERVING");
    assert.equal(await checkHealth(judge.address, "grpomesh.v1.JudgeService"), "NOT_SERVING");
    const ids = randomIds(2, SEQ_LEN, 3);
    await assert.rejects(
      client.score({ tokens: encodeTensor(ids, [2, SEQ_LEN]) }),
      (e: RpcCallError) => e.code === Status.UNAVAILABLE && /no judge model is loaded yet/.test(e.details),
    );
    const info = await client.info({});
    assert.deepEqual([info.modelVersion, info.executionProvider, info.maxBatchSize], ["", "cpu", 1024]);
    const loaded = await client.loadModel({ path: pathA });
    assert.deepEqual([loaded.modelVersion, loaded.previousVersion], ["a1", ""]);
    assert.equal(await checkHealth(judge.address, "grpomesh.v1.JudgeService"), "SERVING");
    const res = await client.score({ tokens: encodeTensor(ids, [2, SEQ_LEN]) });
    assert.deepEqual([...decodeTensor(res.scores, { name: "scores", dtype: DataType.FLOAT32 }).values], [...(await directScores(modelA, ids, 2, SEQ_LEN))]);
  } finally {
    client.close();
    await judge.shutdown();
  }
  assert.equal(judge.slot.current, null);
});

test("the parallel scheduler scores concurrent requests like onnxruntime does", async () => {
  const judge = await startJudgeServer({ address: "127.0.0.1:0", metricsPort: null, model: pathA, scheduler: "parallel", sessions: 2, threads: 1 });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000 });
  try {
    const batches = Array.from({ length: 6 }, (_, i) => randomIds(2, SEQ_LEN, 50 + i));
    const responses = await Promise.all(batches.map((ids) => client.score({ tokens: encodeTensor(ids, [2, SEQ_LEN]) })));
    for (const [i, r] of responses.entries()) {
      assert.deepEqual([...decodeTensor(r.scores, { name: "scores", dtype: DataType.FLOAT32 }).values], [...(await directScores(modelA, batches[i]!, 2, SEQ_LEN))]);
    }
  } finally {
    client.close();
    await judge.shutdown();
  }
});

test("a start model that breaks the contract, or an unavailable provider, stops the start with the reason", async () => {
  await assert.rejects(
    startJudgeServer({ address: "127.0.0.1:0", metricsPort: 0, model: genPath }),
    /gen\.onnx refused: output "logits" has shape \[batch, 16, 20\]; expected \[batch\] or \[batch, 1\]/,
  );
  const cuda = () => startJudgeServer({ address: "127.0.0.1:0", metricsPort: null, executionProvider: "cuda" });
  if (cudaProviderInstalled()) await (await cuda()).shutdown();
  else await assert.rejects(cuda(), /execution provider "cuda" was requested but this onnxruntime-node has no CUDA provider/);
});
