// The orchestrator's RPCs over real mutual TLS with the admin token, in front of the real loop
// (over the loop's tiny in-process ports): Status says PAUSED while paused, Pause answers with the
// last step applied, admin RPCs without the token change nothing, and SwapJudge refuses paths
// longer than 4 KiB before any judge is asked.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrpoTrainer, readLog } from "@grpomesh/loop";
import { TINY_MASK, tinyConfig, tinyPorts } from "@grpomesh/loop/testing";
import { OrchestratorService, RunState } from "@grpomesh/proto";
import { RpcCallError, Status, createClient, createLocalCredentials, loadSecurity, type Client, type RunningServer, type Security } from "@grpomesh/rpc";
import { JudgeFleet } from "./judge-fleet.ts";
import { startOrchestratorServer } from "./server.ts";
import { WeightedJudges } from "./weighted-judges.ts";

const dir = mkdtempSync(join(tmpdir(), "orch-server-"));
let server: RunningServer;
let admin: Client<typeof OrchestratorService>;
let reader: Client<typeof OrchestratorService>;
let trainer: GrpoTrainer;
let judges: JudgeFleet;
let running: Promise<unknown>;
const abort = new AbortController();
let state = RunState.RUNNING;
const runDir = join(dir, "run");

before(async () => {
  const creds = await createLocalCredentials(join(dir, "secrets"));
  const serverSecurity = loadSecurity({ tlsDir: creds.serverTlsDir, adminTokenFile: creds.adminTokenFile });
  const clientSecurity = loadSecurity({ tlsDir: creds.clientTlsDir, adminTokenFile: creds.adminTokenFile });
  const noToken: Security = { ...clientSecurity, adminToken: null, adminTokenFile: null };
  trainer = new GrpoTrainer(tinyPorts({ judgeDelayMs: 30 }), tinyConfig({ max_iters: 10_000, checkpoint_interval: 0 }), { runDir, maskTokenId: TINY_MASK });
  trainer.begin();
  // No judge answers at this address: a request that reached the fleet would fail UNAVAILABLE.
  judges = new JudgeFleet(["127.0.0.1:1"], { deadlineMs: 2_000 });
  server = await startOrchestratorServer(
    "127.0.0.1:0",
    {
      trainer,
      judges: new WeightedJudges([{ name: "judge", weight: 1, fleet: judges }]),
      runDir,
      state: () => state,
      error: () => "",
      looping: () => state === RunState.RUNNING,
    },
    { security: serverSecurity },
  );
  admin = createClient(OrchestratorService, server.address, { security: clientSecurity, deadlineMs: 20_000 });
  reader = createClient(OrchestratorService, server.address, { security: noToken, deadlineMs: 20_000 });
  running = trainer.run(abort.signal).finally(() => (state = RunState.DONE));
  while (trainer.step < 2) await new Promise((r) => setTimeout(r, 5));
});

after(async () => {
  abort.abort();
  trainer.resume();
  await running;
  admin.close();
  reader.close();
  judges.close();
  await server.shutdown(500);
  rmSync(dir, { recursive: true, force: true });
});

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return { code: (err as RpcCallError).code, message: (err as RpcCallError).details };
  }
  return { code: Status.OK, message: "" };
};

test("admin RPCs without the token are refused and change nothing; Status is served to anyone", async () => {
  const refused = await code(reader.pause({}));
  assert.equal(refused.code, Status.UNAUTHENTICATED, refused.message);
  assert.equal(trainer.isPaused, false);
  assert.equal((await reader.status({})).state, RunState.RUNNING);
});

test("Pause answers with the last step applied and Status says PAUSED until Resume", async () => {
  const { step } = await admin.pause({});
  const steps = readLog(join(runDir, "log.jsonl")).records.filter((r) => r.type === "step");
  assert.equal(step, steps.at(-1)!.step, "PauseResponse.step is the last step in the log");
  const status = await reader.status({});
  assert.equal(status.state, RunState.PAUSED);
  assert.equal(status.step, step);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(trainer.step, step, "no step runs while paused");
  const resumed = await admin.resume({});
  assert.equal(resumed.step, step);
  while (trainer.step < step + 1) await new Promise((r) => setTimeout(r, 5));
  assert.equal((await reader.status({})).state, RunState.RUNNING);
});

test("SwapJudge refuses a path over 4 KiB (echoed cut short) before any judge is asked", async () => {
  const long = "m/".repeat(3000) + "model.onnx";
  const res = await code(admin.swapJudge({ path: long, version: "" }));
  assert.equal(res.code, Status.INVALID_ARGUMENT, res.message);
  assert.match(res.message, /path is 6010 bytes .*; paths are at most 4096 bytes/);
  assert.ok(res.message.length < 400, `message echoes ${res.message.length} characters`);
  const empty = await code(admin.swapJudge({ path: "", version: "" }));
  assert.equal(empty.code, Status.INVALID_ARGUMENT);
  const version = await code(admin.swapJudge({ path: "judge.onnx", version: "v".repeat(10_000) }));
  assert.equal(version.code, Status.INVALID_ARGUMENT);
  assert.equal((await reader.status({})).state, RunState.RUNNING);
});
