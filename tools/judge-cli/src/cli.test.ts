import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { inspectJudgeModel } from "@grpomesh/onnx-export";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { Supervisor, freePort, tsxProcess, writeCharacterJudge } from "@grpomesh/launcher";
import { runCli } from "./cli.ts";

const dir = mkdtempSync(join(tmpdir(), "grpomesh-judge-cli-"));
const token = join(dir, "admin-token");
writeFileSync(token, "judge-cli-test-admin-token-0123456789\n");
// No local run is found unless a test makes one: the CLI looks for stack.json files here.
const runsDir = join(dir, "runs");
const env = { GRPOMESH_RUNS_DIR: runsDir };
const sup = new Supervisor(join(dir, "logs"));
const targets: string[] = [];

before(async () => {
  await initBackend(undefined, { log: false });
  const { vocab } = loadCorpus();
  writeCharacterJudge(join(dir, "e.onnx"), vocab.tokens, "e", { seqLen: 32, version: "e-v1" });
  writeCharacterJudge(join(dir, "a.onnx"), vocab.tokens, "a", { seqLen: 32, version: "a-v1" });
  writeFileSync(join(dir, "broken.onnx"), "not an onnx model");
  const specs = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    targets.push(`127.0.0.1:${port}`);
    specs.push(
      tsxProcess(
        `judge-${i}`,
        "services/judge/src/main.ts",
        [`--model=${join(dir, "e.onnx")}`, `--address=127.0.0.1:${port}`, "--metrics_port=off", `--admin_token_file=${token}`],
        { healthTarget: `127.0.0.1:${port}` },
      ),
    );
  }
  await sup.startAll(specs, { timeoutMs: 120_000 });
});

after(async () => {
  await sup.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runCli(argv, { out: (l) => lines.push(l) }, { ...env, ...extraEnv });
  return { code, out: lines.join("\n") };
}

test("swap loads the model on every replica and reports what each serves", async () => {
  const spec = `--judges=${targets.join(",")}`;
  const swapped = await run(["swap", join(dir, "a.onnx"), spec, `--admin_token_file=${token}`]);
  assert.equal(swapped.code, 0, swapped.out);
  for (const t of targets) assert.match(swapped.out, new RegExp(`${t.replace(/\./g, "\\.")}  a-v1`));
  const status = await run(["status", spec]);
  assert.equal(status.code, 0);
  assert.equal(status.out.match(/a-v1/g)?.length, 2, status.out);
});

test("with several named judges, status shows each and swap --judge=NAME swaps only that one", async () => {
  const spec = `--judges=first@2=${targets[0]};second=${targets[1]}`;
  const before = await run(["swap", join(dir, "e.onnx"), spec, "--judge=second", `--admin_token_file=${token}`]);
  assert.equal(before.code, 0, before.out);
  const swapped = await run(["swap", join(dir, "a.onnx"), spec, "--judge=first", `--admin_token_file=${token}`]);
  assert.equal(swapped.code, 0, swapped.out);
  assert.match(swapped.out, /swapping judge first's 1 replica\(s\)/);
  const status = await run(["status", spec]);
  assert.equal(status.code, 0, status.out);
  assert.match(status.out, new RegExp(`judge first \\(weight 2\\):\n  ${targets[0]!.replace(/\./g, "\\.")}  \\S+ a-v1`));
  assert.match(status.out, new RegExp(`judge second \\(weight 1\\):\n  ${targets[1]!.replace(/\./g, "\\.")}  \\S+ e-v1`));
  await assert.rejects(
    run(["swap", join(dir, "a.onnx"), spec, `--admin_token_file=${token}`]),
    /there are 2 judges \(first, second\); name the one to swap with --judge=NAME/,
  );
  await assert.rejects(
    run(["swap", join(dir, "a.onnx"), spec, "--judge=third", `--admin_token_file=${token}`]),
    /no judge named "third"; the judges are first, second/,
  );
  await assert.rejects(run(["status", "--judges=a@0=127.0.0.1:1"]), /weight is 0/);
});

test("a model that fails the check is refused and every replica keeps its model", async () => {
  const spec = `--judges=${targets.join(",")}`;
  const before = await run(["status", spec]);
  const res = await run(["swap", join(dir, "broken.onnx"), spec, `--admin_token_file=${token}`]);
  assert.equal(res.code, 1, res.out);
  assert.match(res.out, /kept/);
  const after = await run(["status", spec]);
  assert.equal(after.out, before.out);
});

test("without the admin token a swap is refused and every replica keeps its model", async () => {
  const spec = `--judges=${targets.join(",")}`;
  const before = await run(["status", spec]);
  const res = await run(["swap", join(dir, "e.onnx"), spec]);
  assert.equal(res.code, 1, res.out);
  assert.match(res.out, /needs the admin token/);
  assert.equal((await run(["status", spec])).out, before.out);
});

test("a local run's stack.json gives the credentials and the judges' addresses (the newest run wins)", async () => {
  const old = join(runsDir, "old");
  const fresh = join(runsDir, "fresh");
  mkdirSync(old, { recursive: true });
  mkdirSync(fresh, { recursive: true });
  writeFileSync(join(old, "stack.json"), JSON.stringify({ services: { "judge-0": { address: "127.0.0.1:1" } } }));
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(
    join(fresh, "stack.json"),
    JSON.stringify({ services: Object.fromEntries(targets.map((t, i) => [`judge-${i}`, { address: t }])), admin_token_file: token, tls_dir: "" }),
  );
  try {
    const status = await run(["status"]);
    assert.equal(status.code, 0, status.out);
    assert.ok(status.out.includes(`(plaintext + admin token from the run in ${fresh})`), status.out);
    assert.equal(status.out.match(/127\.0\.0\.1:\d+  /g)?.length, targets.length, status.out);
    assert.match((await run(["status", `--run_dir=${old}`])).out, /127\.0\.0\.1:1  unreachable/);
    await assert.rejects(run(["status", `--run_dir=${dir}`]), /has no stack\.json/);
  } finally {
    rmSync(runsDir, { recursive: true, force: true });
  }
});

test("usage errors are explained", async () => {
  await assert.rejects(runCli(["swap", "x.onnx"], { out: () => {} }, env), /swap needs --judges=SPEC or --orchestrator=HOST:PORT/);
  await assert.rejects(runCli(["swap", "x.onnx", "--judges=a", "--orchestrator=b"], { out: () => {} }, env), /not both/);
  await assert.rejects(runCli(["frobnicate"], { out: () => {} }, env), /unknown command "frobnicate"/);
  await assert.rejects(runCli(["status", "--judges=a", "--bogus=1"], { out: () => {} }, env), /unknown option --bogus/);
  await assert.rejects(runCli(["run", "explode", "--orchestrator=127.0.0.1:1"], { out: () => {} }, env), /unknown run action "explode"/);
  await assert.rejects(runCli(["swap", "a.onnx", "b.onnx"], { out: () => {} }, env), /swap takes at most one argument; got also "b\.onnx"/);
  await assert.rejects(runCli(["swap", "a.onnx", "b.onnx", "c.onnx"], { out: () => {} }, env), /got 4 positional argument\(s\)/);
  await assert.rejects(runCli(["quantize", "in.onnx"], { out: () => {} }, env), /quantize takes two paths: quantize <in\.onnx> <out\.onnx>/);
  await assert.rejects(
    runCli(["quantize", "/nonexistent/in.onnx", "/tmp/out.onnx"], { out: () => {} }, env),
    /quantize: \/nonexistent\/in\.onnx does not exist/,
  );
  const help: string[] = [];
  assert.equal(await runCli(["--help"], { out: (l) => help.push(l) }, env), 0);
  assert.match(help.join("\n"), /run status\|pause\|resume\|checkpoint[\s\S]*--judges .*\[env GRPOMESH_JUDGES\]/);
});

test("quantize writes an int8 judge that keeps the contract, and never over an existing file", async () => {
  const fp32 = new URL("../../../models/judge/model.onnx", import.meta.url).pathname;
  const out = join(dir, "judge-int8.onnx");
  const lines: string[] = [];
  assert.equal(await runCli(["quantize", fp32, out, "--keep=score.weight"], { out: (l) => lines.push(l) }, env), 0);
  assert.match(
    lines.join("\n"),
    /wrote .*judge-int8\.onnx: version judge-v1-int8, 16 weight matrices int8 \(score\.weight fp32\), 4 GELU as FastGelu, 3\.29 MB → 0\.9\d MB/,
  );
  assert.equal(inspectJudgeModel(readFileSync(out)).version, "judge-v1-int8");
  await assert.rejects(runCli(["quantize", fp32, out], { out: () => {} }, env), /judge-int8\.onnx exists; give a new file \(nothing was written\)/);
});
