// A SwapJudge whose judge never answers LoadModel holds the loop at most judge_swap_deadline_ms:
// the swap is refused, every replica keeps its model, and training goes on. The judge here is a
// gRPC server that scores (fraction of token 1) and never finishes a load.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrpoTrainer } from "@grpomesh/loop";
import { TINY_MASK, TINY_VOCAB, tinyConfig, tinyPorts } from "@grpomesh/loop/testing";
import { DataType, JudgeService, OrchestratorService, RunState } from "@grpomesh/proto";
import { RpcCallError, Status, bindService, createClient, loadSecurity, startServer } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { JudgeFleet } from "./judge-fleet.ts";
import { WeightedJudges } from "./weighted-judges.ts";
import { startOrchestratorServer } from "./server.ts";

const dir = mkdtempSync(join(tmpdir(), "orch-swap-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SWAP_DEADLINE_MS = 600;

test("a judge that never finishes loading holds the loop no longer than judge_swap_deadline_ms", { timeout: 20_000 }, async () => {
  let loads = 0;
  const judge = await startServer({
    address: "127.0.0.1:0",
    services: [
      bindService(
        JudgeService,
        {
          score(req) {
            const t = decodeTensor(req.tokens, { name: "tokens", dtype: DataType.INT32, shape: [null, null] });
            const [n, seqLen] = t.shape as [number, number];
            const scores = new Float32Array(n);
            for (let s = 0; s < n; s++) for (let i = 0; i < seqLen; i++) scores[s]! += t.values[s * seqLen + i] === 1 ? 1 / seqLen : 0;
            return { scores: encodeTensor(scores, [n]), modelName: "ones", modelVersion: "v1" };
          },
          info() {
            return { modelName: "ones", modelVersion: "v1", modelPath: "ones.onnx", vocab: Array.from({ length: TINY_VOCAB }, (_, i) => `t${i}`) };
          },
          loadModel() {
            loads++;
            return new Promise(() => {}); // never answers
          },
        },
        [],
      ),
    ],
  });
  // swapDeadlineMs: what the orchestrator passes from judge_swap_deadline_ms.
  const fleet = new JudgeFleet([judge.address], { deadlineMs: 10_000, swapDeadlineMs: SWAP_DEADLINE_MS });
  const trainer = new GrpoTrainer({ ...tinyPorts(), judge: fleet }, tinyConfig({ max_iters: 10_000, checkpoint_interval: 0 }), {
    runDir: join(dir, "run"),
    maskTokenId: TINY_MASK,
  });
  let state = RunState.RUNNING;
  const tokenFile = join(dir, "admin-token");
  writeFileSync(tokenFile, randomBytes(24).toString("base64url"));
  const security = loadSecurity({ adminTokenFile: tokenFile });
  const server = await startOrchestratorServer(
    "127.0.0.1:0",
    {
      trainer,
      judges: new WeightedJudges([{ name: "judge", weight: 1, fleet }]),
      runDir: join(dir, "run"),
      state: () => state,
      error: () => "",
      looping: () => state === RunState.RUNNING,
    },
    { security },
  );
  const client = createClient(OrchestratorService, server.address, { deadlineMs: 30_000, security });
  const abort = new AbortController();
  const running = trainer.run(abort.signal).finally(() => (state = RunState.DONE));
  try {
    while (trainer.step < 2) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    const swap = await client.swapJudge({ path: "other.onnx", version: "" }).then(
      () => Status.OK,
      (err: RpcCallError) => err.code,
    );
    const heldMs = Date.now() - t0;
    assert.ok(loads >= 1, "the swap reached the judge");
    assert.notEqual(swap, Status.OK);
    assert.notEqual(swap, Status.UNKNOWN);
    assert.ok(heldMs < SWAP_DEADLINE_MS + 2_000, `the swap held the loop ${heldMs} ms; deadline ${SWAP_DEADLINE_MS} ms`);
    const at = trainer.step;
    while (trainer.step < at + 2) await new Promise((r) => setTimeout(r, 5));
    assert.equal(trainer.lastJudgeVersion, "v1", "the replica keeps its model");
  } finally {
    abort.abort();
    await running.catch(() => {});
    client.close();
    fleet.close();
    await server.shutdown(200);
    await judge.shutdown(200);
  }
});
