// Two named judge fleets over real judge processes (mutual TLS, admin token): the reward is the
// weighted sum of their scores, each judge's mean and version reach the step and eval records
// and /metrics, Status lists both, and SwapJudge swaps only the judge it names (refusing an
// unknown name or none when there are two).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GrpoTrainer, readLog, type StepRecord } from "@grpomesh/loop";
import { TINY_MASK, TINY_SEQ_LEN, TINY_VOCAB, tinyConfig, tinyPorts } from "@grpomesh/loop/testing";
import { OrchestratorService, RunState } from "@grpomesh/proto";
import { RpcCallError, Status, createClient, createLocalCredentials, loadSecurity, type Security } from "@grpomesh/rpc";
import { runTsx } from "@grpomesh/rpc/testing";
import { JudgeFleet } from "./judge-fleet.ts";
import { RunMetrics } from "./metrics.ts";
import { startOrchestratorServer } from "./server.ts";
import { WeightedJudges } from "./weighted-judges.ts";

// Run as processes, by path: a service does not import another service.
const JUDGE_MAIN = fileURLToPath(new URL("../../judge/src/main.ts", import.meta.url));
const MAKE_JUDGE = fileURLToPath(new URL("../../judge/src/make-random-judge.ts", import.meta.url));
// The loop's tiny ports speak TINY_VOCAB tokens of TINY_SEQ_LEN: the judges do too.
const SMALL = [`--seq_len=${TINY_SEQ_LEN}`, `--vocab_size=${TINY_VOCAB}`, "--n_layer=1", "--d_model=16", "--n_head=2", "--d_ff=32"];

const dir = mkdtempSync(join(tmpdir(), "weighted-judges-"));
const models = { a: join(dir, "a.onnx"), b: join(dir, "b.onnx"), c: join(dir, "c.onnx") };
const children: ChildProcess[] = [];
let security: Security;
let serverSecurity: Security;
let rule = "";
let solved = "";

function startJudge(model: string, creds: { serverTlsDir: string; adminTokenFile: string }): Promise<string> {
  const args = [
    `--model=${model}`,
    "--address=127.0.0.1:0",
    "--metrics_port=off",
    "--sessions=1",
    "--threads=1",
    `--tls_dir=${creds.serverTlsDir}`,
    `--admin_token_file=${creds.adminTokenFile}`,
  ];
  const child = spawn(process.execPath, ["--import", "tsx", JUDGE_MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`judge did not start in 60 s: ${out} ${err}`)), 60_000);
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /judge: serving address=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on("exit", (code) => reject(new Error(`judge exited ${code} before serving: ${err}`)));
  });
}

before(async () => {
  const creds = await createLocalCredentials(join(dir, "secrets"));
  security = loadSecurity({ tlsDir: creds.clientTlsDir, adminTokenFile: creds.adminTokenFile });
  serverSecurity = loadSecurity({ tlsDir: creds.serverTlsDir, adminTokenFile: creds.adminTokenFile });
  const made = await Promise.all((["a", "b", "c"] as const).map((v, i) => runTsx(MAKE_JUDGE, [models[v], `--seed=${i + 1}`, `--version=${v}`, ...SMALL])));
  for (const m of made) assert.equal(m.code, 0, m.stderr);
  [rule, solved] = await Promise.all([startJudge(models.a, creds), startJudge(models.b, creds)]);
});

after(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** A version without the model digest the judge adds ("a+sha256:…" → "a"). */
const label = (v: string | undefined) => (v ?? "").replace(/\+sha256:[0-9a-f]+/g, "");
const labels = (m: Record<string, string> | undefined) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, label(v)]));

/** Random sequences of the tiny vocabulary: `groups` groups of `groupSize`. */
function sequences(count: number): Int32Array {
  return Int32Array.from({ length: count * TINY_SEQ_LEN }, (_, i) => (i * 7 + 3) % TINY_VOCAB);
}

test("the reward is Σ weight·score over the fleets; each judge's mean and version come with it", async () => {
  const judges = await WeightedJudges.fromSpec(`rule@2=${rule};solved@-0.5=${solved}`, { security });
  const alone = [new JudgeFleet([rule], { security }), new JudgeFleet([solved], { security })];
  try {
    const opts = { count: 8, seqLen: TINY_SEQ_LEN, groupSize: 4 };
    const seqs = sequences(8);
    const [r, s] = await Promise.all(alone.map((f) => f.score(seqs, opts)));
    const got = await judges.score(seqs, opts);
    assert.deepEqual(judges.names, ["rule", "solved"]);
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(got.scores[i]! - (2 * r!.scores[i]! - 0.5 * s!.scores[i]!)) < 1e-5, `sequence ${i}`);
    // The two judges disagree somewhere, so a sum that dropped one or used the wrong weight fails above.
    assert.ok(r!.scores.some((x, i) => Math.abs(x - s!.scores[i]!) > 1e-4));
    const mean = (x: Float32Array) => x.reduce((a, b) => a + b, 0) / x.length;
    assert.ok(Math.abs(got.judges!.rule!.mean - mean(r!.scores)) < 1e-6);
    assert.ok(Math.abs(got.judges!.solved!.mean - mean(s!.scores)) < 1e-6);
    assert.deepEqual(Object.fromEntries(Object.entries(got.judges!).map(([k, v]) => [k, label(v.version)])), { rule: "a", solved: "b" });
    assert.deepEqual(got.groupVersions.map(label), ["rule=a,solved=b", "rule=a,solved=b"]);
    assert.equal(got.groupVersions[0], `rule=${r!.groupVersions[0]},solved=${s!.groupVersions[0]}`);
    // One plain fleet reads as before: its scores and its plain version.
    const one = await WeightedJudges.fromSpec(rule, { security });
    try {
      const plain = await one.score(seqs, opts);
      assert.deepEqual(plain.groupVersions, r!.groupVersions);
      assert.equal(label(plain.groupVersions[0]), "a");
      assert.deepEqual([...plain.scores], [...r!.scores]);
      assert.deepEqual(one.names, ["judge"]);
    } finally {
      one.close();
    }
  } finally {
    judges.close();
    for (const f of alone) f.close();
  }
});

test("step and eval records, /metrics and Status carry each judge; SwapJudge swaps only the judge it names", async () => {
  const judges = await WeightedJudges.fromSpec(`rule@2=${rule};solved@-0.5=${solved}`, { security });
  const runDir = join(dir, "run");
  const metrics = new RunMetrics();
  const trainer = new GrpoTrainer({ ...tinyPorts(), judge: judges }, tinyConfig({ max_iters: 10, checkpoint_interval: 0 }), {
    runDir,
    maskTokenId: TINY_MASK,
    hooks: { onStep: (r) => metrics.recordStep(r) },
  });
  trainer.begin();
  const server = await startOrchestratorServer(
    "127.0.0.1:0",
    { trainer, judges, runDir, state: () => RunState.RUNNING, error: () => "", looping: () => false },
    { security: serverSecurity },
  );
  const client = createClient(OrchestratorService, server.address, { security, deadlineMs: 30_000 });
  const code = (p: Promise<unknown>) =>
    p.then(
      () => ({ code: Status.OK, message: "" }),
      (e: unknown) => ({ code: e instanceof RpcCallError ? e.code : -1, message: (e as Error).message }),
    );
  try {
    const first = await trainer.trainStep();
    assert.deepEqual(labels(first.judge_versions), { rule: "a", solved: "b" });
    assert.deepEqual(Object.keys(first.judge_rewards!), ["rule", "solved"]);
    const expected = 2 * first.judge_rewards!.rule! - 0.5 * first.judge_rewards!.solved!;
    assert.ok(Math.abs(first.mean_reward - expected) < 1e-4, `mean_reward ${first.mean_reward} is 2·rule − 0.5·solved = ${expected}`);
    assert.equal(label(first.judge_version), "rule=a,solved=b");
    const text = await metrics.service.registry.metrics();
    assert.match(text, new RegExp(`grpo_judge_mean_reward\\{judge="rule"\\} ${first.judge_rewards!.rule}`));
    assert.match(text, /grpo_judge_version_info\{judge="rule",version="a\+sha256:[0-9a-f]+"\} 1/);
    assert.match(text, /grpo_judge_version_info\{judge="solved",version="b\+sha256:[0-9a-f]+"\} 1/);

    const status = await client.status({});
    assert.deepEqual(
      status.judges.map((j) => [j.name, j.weight, label(j.version), j.replicas]),
      [
        ["rule", 2, "a", [rule]],
        ["solved", -0.5, "b", [solved]],
      ],
    );
    assert.ok(Math.abs(status.judges[1]!.meanReward - first.judge_rewards!.solved!) < 1e-6);

    const none = await code(client.swapJudge({ path: models.c, version: "", judge: "" }));
    assert.equal(none.code, Status.INVALID_ARGUMENT);
    assert.match(none.message, /2 judges \(rule, solved\); name the one to swap/);
    const unknown = await code(client.swapJudge({ path: models.c, version: "", judge: "nope" }));
    assert.equal(unknown.code, Status.NOT_FOUND);
    assert.match(unknown.message, /no judge named "nope"; the judges are rule, solved/);
    const long = await code(client.swapJudge({ path: models.c, version: "", judge: "x".repeat(100) }));
    assert.equal(long.code, Status.INVALID_ARGUMENT);

    const swapped = await client.swapJudge({ path: models.c, version: "", judge: "solved" });
    assert.deepEqual(
      swapped.replicas.map((r) => [r.address, label(r.modelVersion), r.ok]),
      [[solved, "c", true]],
    );
    const second: StepRecord = await trainer.trainStep();
    assert.deepEqual(labels(second.judge_versions), { rule: "a", solved: "c" });
    const text2 = await metrics.service.registry.metrics();
    assert.match(text2, /grpo_judge_version_info\{judge="solved",version="c\+sha256:[0-9a-f]+"\} 1/);
    assert.doesNotMatch(text2, /version="b\+/);
    const evaluated = await trainer.evaluate();
    assert.deepEqual(labels(evaluated.judge_versions), { rule: "a", solved: "c" });
    assert.ok(Math.abs(evaluated.mean_reward - (2 * evaluated.judge_rewards!.rule! - 0.5 * evaluated.judge_rewards!.solved!)) < 1e-4);
    const logged = readLog(join(runDir, "log.jsonl")).records.filter((r) => r.type === "step" || r.type === "eval");
    assert.deepEqual(
      logged.map((r) => labels(r.judge_versions as Record<string, string>)),
      [
        { rule: "a", solved: "b" },
        { rule: "a", solved: "c" },
        { rule: "a", solved: "c" },
      ],
    );
  } finally {
    client.close();
    await server.shutdown(500);
    judges.close();
  }
});
