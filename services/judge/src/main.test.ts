// main.ts as a process: the start line, health, graceful SIGTERM, and the exit codes and messages
// of a contract-breaking model, an unavailable provider and a mistyped flag.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { checkHealth } from "@grpomesh/rpc";
import { cudaProviderInstalled } from "./execution-provider.ts";
import { generatorModel, tempRepository, tinyScorer } from "./test/fixtures.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const repo = tempRepository();
repo.write("judge/1/model.onnx", tinyScorer("v1", 1));
repo.write("gen.onnx", generatorModel());
after(() => repo.remove());

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns main.ts; `onLine` sees stdout lines and may stop the process. */
function runMain(args: string[], env: Record<string, string> = {}, onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      const before = stdout.length;
      stdout += d.toString();
      for (const line of stdout.slice(before).split("\n")) if (line && onLine) onLine(line, (s) => child.kill(s));
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test("starts with one start line, serves health, and exits 0 on SIGTERM", async () => {
  let health = "";
  let checks: Promise<void> = Promise.resolve();
  const run = await runMain(["--address=127.0.0.1:0", "--metrics-port=off", "--threads=1", "--sessions=2", "--max-batch=64"], { JUDGE_MODEL_REPOSITORY: repo.root, JUDGE_MODEL: "judge/1/model.onnx" }, (line, kill) => {
    const address = /^judge: serving address=(\S+)/.exec(line)?.[1];
    if (!address) return;
    checks = checkHealth(address, "grpomesh.v1.JudgeService").then(
      (s) => {
        health = s;
        kill("SIGTERM");
      },
      (e: Error) => {
        health = e.message;
        kill("SIGTERM");
      },
    );
  });
  await checks;
  assert.equal(run.code, 0, `exit ${run.code} ${run.signal}; stderr: ${run.stderr}`);
  assert.equal(health, "SERVING");
  const starts = run.stdout.split("\n").filter((l) => l.startsWith("judge: serving "));
  assert.equal(starts.length, 1, run.stdout);
  for (const field of ["model=tiny-judge ", "version=v1 ", "provider=cpu ", "threads=1 ", "sessions=2 ", "scheduler=parallel ", "max_batch=64 ", "metrics=off ", `repository=${repo.root} `, "poll_ms=0 ", "seq_len=16 "]) {
    assert.ok(starts[0]!.includes(field), `start line lacks ${field}: ${starts[0]}`);
  }
  assert.match(run.stdout, /SIGTERM, finishing in-flight requests/);
});

test("a contract-breaking model exits 1 with the contract message", async () => {
  const run = await runMain([`--model=${repo.root}/gen.onnx`, "--address=127.0.0.1:0", "--metrics-port=off"]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /judge: cannot start: judge model .*gen\.onnx refused: output "logits" has shape \[batch, 16, 20\]; expected \[batch\] or \[batch, 1\]/);
  assert.equal(run.stdout, "");
});

test("an unavailable execution provider and a mistyped flag stop the start with the reason", async () => {
  const [cuda, typo] = await Promise.all([
    cudaProviderInstalled() ? null : runMain(["--execution-provider=cuda", "--address=127.0.0.1:0", "--metrics-port=off"]),
    runMain(["--max-bacth=4"]),
  ]);
  if (cuda) {
    assert.equal(cuda.code, 1, cuda.stderr);
    assert.match(cuda.stderr, /execution provider "cuda" was requested but this onnxruntime-node has no CUDA provider.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
  }
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown flag --max-bacth; known flags:.*\nusage: /s);
});
