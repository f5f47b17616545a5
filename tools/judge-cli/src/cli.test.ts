import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { Supervisor, freePort, tsxProcess, writeCharacterJudge } from "@grpomesh/launcher";
import { runCli } from "./cli.ts";

const dir = mkdtempSync(join(tmpdir(), "grpomesh-judge-cli-"));
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
    specs.push(tsxProcess(`judge-${i}`, "services/judge/src/main.ts", [`--model=${join(dir, "e.onnx")}`, `--address=127.0.0.1:${port}`, "--metrics-port=off"], { healthTarget: `127.0.0.1:${port}` }));
  }
  await sup.startAll(specs, { timeoutMs: 120_000 });
});

after(async () => {
  await sup.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runCli(argv, { out: (l) => lines.push(l) });
  return { code, out: lines.join("\n") };
}

test("swap loads the model on every replica and reports what each serves", async () => {
  const spec = `--judges=${targets.join(",")}`;
  const swapped = await run(["swap", join(dir, "a.onnx"), spec]);
  assert.equal(swapped.code, 0, swapped.out);
  for (const t of targets) assert.match(swapped.out, new RegExp(`${t.replace(/\./g, "\\.")}  a-v1`));
  const status = await run(["status", spec]);
  assert.equal(status.code, 0);
  assert.equal(status.out.match(/a-v1/g)?.length, 2, status.out);
});

test("a model that fails the check is refused and every replica keeps its model", async () => {
  const spec = `--judges=${targets.join(",")}`;
  const before = await run(["status", spec]);
  const res = await run(["swap", join(dir, "broken.onnx"), spec]);
  assert.equal(res.code, 1, res.out);
  assert.match(res.out, /kept/);
  const after = await run(["status", spec]);
  assert.equal(after.out, before.out);
});

test("usage errors are explained", async () => {
  await assert.rejects(runCli(["swap", "x.onnx"], { out: () => {} }), /exactly one of --judges=SPEC or --orchestrator/);
  await assert.rejects(runCli(["frobnicate"], { out: () => {} }), /unknown command "frobnicate"/);
  await assert.rejects(runCli(["status", "--judges=a", "--bogus=1"], { out: () => {} }), /unknown option --bogus/);
});
