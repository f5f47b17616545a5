// Health through a judge's life (no model → LoadModel → SERVING), where LoadModel may load from
// (the model repository, by default the folder of --model), who may call it (the admin token),
// the parallel scheduler, and a start model that breaks the contract.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { DataType, JudgeService } from "@grpomesh/proto";
import { symlinkSync } from "node:fs";
import { checkHealth, createClient, loadSecurity, RpcCallError, Status } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { cudaProviderInstalled } from "@grpomesh/onnx-export/providers";
import { startJudgeServer } from "./judge-server.ts";
import { directScores, generatorModel, label, randomIds, SEQ_LEN, tempRepository, tinyScorer } from "./test/fixtures.ts";

const repo = tempRepository();
const elsewhere = tempRepository("judge-elsewhere-");
const modelA = tinyScorer("a1", 1);
const modelB = tinyScorer("b1", 2);
const pathA = repo.write("a.onnx", modelA);
const pathB = repo.write("b.onnx", modelB);
const outsidePath = elsewhere.write("c.onnx", tinyScorer("c1", 3));
const genPath = repo.write("gen.onnx", generatorModel());
const tokenFile = elsewhere.write("admin-token", new TextEncoder().encode("judge-lifecycle-admin-token-0123456789\n"));
const admin = loadSecurity({ adminTokenFile: tokenFile });
after(() => {
  repo.remove();
  elsewhere.remove();
});

const refusedWith = (code: Status, re: RegExp) => (e: unknown) => e instanceof RpcCallError && e.code === code && re.test(e.details);

test("without a model the judge is NOT_SERVING and answers UNAVAILABLE; LoadModel makes it SERVING", async () => {
  const judge = await startJudgeServer({
    address: "127.0.0.1:0",
    metrics_port: "off",
    sessions: 1,
    threads: 1,
    model_repository: repo.root,
    admin_token_file: tokenFile,
  });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000, security: admin });
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
    const loaded = await client.loadModel({ path: "a.onnx" });
    assert.deepEqual([loaded.modelVersion, loaded.previousVersion], [label("a1", modelA), ""]);
    assert.equal(await checkHealth(judge.address, "grpomesh.v1.JudgeService"), "SERVING");
    const res = await client.score({ tokens: encodeTensor(ids, [2, SEQ_LEN]) });
    assert.deepEqual([...decodeTensor(res.scores, { name: "scores", dtype: DataType.FLOAT32 }).values], [...(await directScores(modelA, ids, 2, SEQ_LEN))]);
  } finally {
    client.close();
    await judge.shutdown();
  }
  assert.equal(judge.slot.current, null);
});

test("the repository defaults to the folder of --model: siblings load, other folders and links out are refused", async () => {
  symlinkSync(outsidePath, `${repo.root}/link-out.onnx`);
  const judge = await startJudgeServer({ address: "127.0.0.1:0", metrics_port: "off", sessions: 1, threads: 1, model: pathA, admin_token_file: tokenFile });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000, security: admin });
  try {
    assert.deepEqual(judge.modelRoot, { root: repo.root, source: "the folder of --model", startModel: pathA });
    const A = label("a1", modelA);
    for (const path of [outsidePath, "link-out.onnx", "../x.onnx", "/etc/passwd"]) {
      await assert.rejects(
        client.loadModel({ path }),
        refusedWith(Status.PERMISSION_DENIED, /is outside .*only from its model repository \(the folder of --model\)/),
        path,
      );
      assert.equal((await client.info({})).modelVersion, A, `${path} changed the model`);
    }
    // 1 MiB (under the default 64 MiB message cap): refused by length at once, with the value cut.
    const t0 = performance.now();
    await assert.rejects(
      client.loadModel({ path: "a/".repeat(524_288) }),
      (e: unknown) =>
        e instanceof RpcCallError &&
        e.code === Status.INVALID_ARGUMENT &&
        /^path is 1048576 bytes \("(a\/){40}"… \(1048576 characters\)\); paths are at most 4096 bytes$/.test(e.details),
    );
    assert.ok(performance.now() - t0 < 5_000, `a 1 MiB path took ${Math.round(performance.now() - t0)} ms`);
    const swapped = await client.loadModel({ path: "b.onnx" });
    assert.deepEqual([swapped.modelVersion, swapped.previousVersion], [label("b1", modelB), A]);
    assert.equal((await client.loadModel({ path: pathA })).modelVersion, A, "an absolute path inside the folder loads too");
  } finally {
    client.close();
    await judge.shutdown();
  }
});

test("a LoadModel whose caller gave up (deadline passed) is dropped, not swapped in", async () => {
  const judge = await startJudgeServer({ address: "127.0.0.1:0", metrics_port: "off", sessions: 1, threads: 1, model: pathA, admin_token_file: tokenFile });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000, security: admin });
  try {
    const A = label("a1", modelA);
    await assert.rejects(client.loadModel({ path: "b.onnx" }, { deadlineMs: 30 }), refusedWith(Status.DEADLINE_EXCEEDED, /./));
    // Loads are serialized: once this one is done, the abandoned one has been dropped or swapped in.
    assert.equal((await client.loadModel({ path: "a.onnx" })).previousVersion, A, "the abandoned load never served");
    assert.equal((await client.info({})).modelVersion, A);
  } finally {
    client.close();
    await judge.shutdown();
  }
});

test("with neither --model nor --model_repository LoadModel is confined to ./models; without an admin token it is refused", async () => {
  const judge = await startJudgeServer({ address: "127.0.0.1:0", metrics_port: "off", sessions: 1, threads: 1 });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000, security: admin });
  try {
    assert.equal(judge.modelRoot.source, "default ./models");
    assert.match(judge.modelRoot.root, /\/models$/);
    // No admin token configured: LoadModel is refused whatever the caller sends, before the path is looked at.
    await assert.rejects(client.loadModel({ path: pathA }), refusedWith(Status.PERMISSION_DENIED, /started without an admin credential/));
  } finally {
    client.close();
    await judge.shutdown();
  }
  const secured = await startJudgeServer({ address: "127.0.0.1:0", metrics_port: "off", sessions: 1, threads: 1, admin_token_file: tokenFile });
  const c2 = createClient(JudgeService, secured.address, { deadlineMs: 10_000, security: admin });
  try {
    await assert.rejects(c2.loadModel({ path: pathA }), refusedWith(Status.PERMISSION_DENIED, /is outside .*models.*\(default \.\/models\)/));
    assert.equal(await checkHealth(secured.address, "grpomesh.v1.JudgeService"), "NOT_SERVING", "nothing was loaded");
  } finally {
    c2.close();
    await secured.shutdown();
  }
});

test("the parallel scheduler scores concurrent requests like onnxruntime does", async () => {
  const judge = await startJudgeServer({ address: "127.0.0.1:0", metrics_port: "off", model: pathA, scheduler: "parallel", sessions: 2, threads: 1 });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000 });
  try {
    const batches = Array.from({ length: 6 }, (_, i) => randomIds(2, SEQ_LEN, 50 + i));
    const responses = await Promise.all(batches.map((ids) => client.score({ tokens: encodeTensor(ids, [2, SEQ_LEN]) })));
    for (const [i, r] of responses.entries()) {
      assert.deepEqual(
        [...decodeTensor(r.scores, { name: "scores", dtype: DataType.FLOAT32 }).values],
        [...(await directScores(modelA, batches[i]!, 2, SEQ_LEN))],
      );
    }
  } finally {
    client.close();
    await judge.shutdown();
  }
});

test("a start model that breaks the contract, or an unavailable provider, stops the start with the reason", async () => {
  await assert.rejects(
    startJudgeServer({ address: "127.0.0.1:0", metrics_port: 0, model: genPath }),
    /gen\.onnx refused: output "logits" has shape \[batch, 16, 20\]; expected \[batch\] or \[batch, 1\]/,
  );
  const cuda = () => startJudgeServer({ address: "127.0.0.1:0", metrics_port: "off", execution_provider: "cuda" });
  if (cudaProviderInstalled()) await (await cuda()).shutdown();
  else await assert.rejects(cuda(), /execution provider "cuda" was requested but this onnxruntime-node has no CUDA provider/);
});
