// Swaps lose no request: four clients keep Score calls going over real gRPC while the model is
// switched back and forth by LoadModel and by the repository poller. Every call must succeed,
// say a version that is one of the two models, and carry exactly that model's scores.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DataType, JudgeService } from "@grpomesh/proto";
import { checkHealth, createClient } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { startJudgeServer } from "./judge-server.ts";
import { directScores, label, randomIds, SEQ_LEN, tempRepository, testAdmin, testJudgeOptions, tinyScorer, waitFor } from "./test/fixtures.ts";

const CLIENTS = 4;
const ROWS = 4;
const repo = tempRepository();
after(() => repo.remove());

test("no Score call fails while models are swapped back and forth by LoadModel and the repository poller", async () => {
  const [bytesA, bytesB] = [tinyScorer("a1", 1), tinyScorer("b2", 2)];
  const [A1, B2] = [label("a1", bytesA), label("b2", bytesB)];
  const models: Record<string, Uint8Array> = { [A1]: bytesA, [B2]: bytesB };
  repo.write("judge/1/model.onnx", bytesA);
  const lines: string[] = [];
  const judge = await startJudgeServer(
    testJudgeOptions(repo.root, { model: "judge/1/model.onnx", repository_poll_ms: 50, scheduler: "parallel", sessions: 2, log: (l) => lines.push(l) }),
  );
  const admin = createClient(JudgeService, judge.address, { deadlineMs: 30_000, security: testAdmin().security });
  const inputs = Array.from({ length: CLIENTS }, (_, i) => randomIds(ROWS, SEQ_LEN, 200 + i));
  const expected: Record<string, number[][]> = {};
  for (const [version, bytes] of Object.entries(models))
    expected[version] = await Promise.all(inputs.map(async (ids) => [...(await directScores(bytes, ids, ROWS, SEQ_LEN))]));

  let running = true;
  const failures: string[] = [];
  const answered = new Array<number>(CLIENTS).fill(0);
  const seen: Record<string, number> = {};
  const health: string[] = [];
  const clients = inputs.map(async (ids, i) => {
    const client = createClient(JudgeService, judge.address, { deadlineMs: 30_000 });
    const tokens = encodeTensor(ids, [ROWS, SEQ_LEN]);
    try {
      while (running) {
        try {
          const res = await client.score({ tokens });
          const scores = [...decodeTensor(res.scores, { name: "scores", dtype: DataType.FLOAT32 }).values];
          if (!(res.modelVersion in expected)) failures.push(`client ${i}: version ${res.modelVersion} is neither model`);
          else if (JSON.stringify(scores) !== JSON.stringify(expected[res.modelVersion]![i]))
            failures.push(`client ${i}: scores of ${res.modelVersion} differ from that model's`);
          seen[res.modelVersion] = (seen[res.modelVersion] ?? 0) + 1;
          answered[i]!++;
        } catch (err) {
          failures.push(`client ${i}: ${(err as Error).message}`);
        }
      }
    } finally {
      client.close();
    }
  });
  const healthChecks = (async () => {
    while (running) {
      health.push(await checkHealth(judge.address, "grpomesh.v1.JudgeService"));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  /** Every client answered at least once more: traffic spans every model in turn. */
  const everyClientAgain = async (what: string) => {
    const marks = [...answered];
    await waitFor(`every client to be answered after ${what}`, () => answered.every((n, i) => n > marks[i]!));
  };
  const version = () => judge.slot.current?.version;
  const viaRpc = async (path: string, want: string) => {
    assert.equal((await admin.loadModel({ path })).modelVersion, want);
    await everyClientAgain(`LoadModel ${path}`);
  };
  const viaRepository = async (what: string, change: () => void, done: () => boolean) => {
    change();
    await waitFor(`the repository poller to follow ${what}`, done);
    await everyClientAgain(what);
  };

  try {
    await everyClientAgain("start");
    await viaRepository(
      "a new version 2",
      () => repo.writeAtomically("judge/2/model.onnx", bytesB),
      () => version() === B2,
    );
    await viaRpc("judge/1/model.onnx", A1);
    await viaRpc("judge/2/model.onnx", B2);
    await viaRepository(
      "a new version 3",
      () => repo.writeAtomically("judge/3/model.onnx", bytesA),
      () => version() === A1,
    );
    await viaRpc("judge/2/model.onnx", B2);
    const servedV2 = () => lines.filter((l) => l.startsWith("repository: serving judge/2/")).length;
    await viaRepository(
      "version 3 removed",
      () => rmSync(join(repo.root, "judge/3"), { recursive: true }),
      () => servedV2() === 2,
    );
    await viaRpc("judge/1/model.onnx", A1);
  } finally {
    running = false;
    await Promise.all(clients);
    await healthChecks;
    admin.close();
    await judge.shutdown();
  }
  assert.deepEqual(failures, [], `${failures.length} failed calls`);
  assert.ok((seen[A1] ?? 0) > CLIENTS && (seen[B2] ?? 0) > CLIENTS, `responses by version: ${JSON.stringify(seen)}`);
  assert.deepEqual([...new Set(health)], ["SERVING"]);
  assert.equal(lines.filter((l) => l.includes("refused")).length, 0, lines.join("\n"));
});
