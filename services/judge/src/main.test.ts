// main.ts as a process: the start line, health, graceful SIGTERM, and the exit codes and messages
// of a contract-breaking model, an unavailable provider and a mistyped flag.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { createLocalCredentials } from "@grpomesh/rpc";
import { runTsx, runUntilServing } from "@grpomesh/rpc/testing";
import { cudaProviderInstalled } from "@grpomesh/onnx-export/providers";
import { generatorModel, label, tempRepository, tinyScorer } from "./test/fixtures.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const repo = tempRepository();
const v1 = tinyScorer("v1", 1);
repo.write("judge/1/model.onnx", v1);
repo.write("gen.onnx", generatorModel());
after(() => repo.remove());

const runMain = (args: string[]) => runTsx(MAIN, args, { timeoutMs: 30_000 });

test("starts with one start line, serves health, and exits 0 on SIGTERM", async () => {
  const run = await runUntilServing(MAIN, ["--address=127.0.0.1:0", "--metrics_port=off", "--threads=1", "--sessions=2", "--max_batch=64"], {
    name: "judge",
    healthService: "grpomesh.v1.JudgeService",
    env: { JUDGE_MODEL_REPOSITORY: repo.root, JUDGE_MODEL: "judge/1/model.onnx" },
    timeoutMs: 30_000,
  });
  assert.equal(run.code, 0, `exit ${run.code} ${run.signal}; stderr: ${run.stderr}`);
  assert.equal(run.health, "SERVING");
  const starts = run.startLines;
  assert.equal(starts.length, 1, run.stdout);
  for (const field of [
    "model=tiny-judge ",
    `version=${label("v1", v1)} `,
    "provider=cpu ",
    "threads=1 ",
    "sessions=2 ",
    "scheduler=parallel ",
    "max_batch=64 ",
    "metrics=off ",
    `repository=${repo.root} `,
    "repository_from=flag ",
    "poll_ms=0 ",
    "seq_len=16 ",
  ]) {
    assert.ok(starts[0]!.includes(field), `start line lacks ${field}: ${starts[0]}`);
  }
  assert.match(starts[0]!, / tls=off admin=none$/);
  assert.match(run.stderr, /judge: WARNING: plaintext gRPC .*no --admin_token_file: state-changing RPCs are refused/);
  assert.match(run.stdout, /SIGTERM, finishing in-flight requests/);
});

test("with --tls_dir and --admin_token_file it serves mTLS, says so, and prints no warning; the repository defaults to the model's folder", async () => {
  const creds = await createLocalCredentials(join(repo.root, "secrets"));
  const run = await runUntilServing(
    MAIN,
    [
      "--address=127.0.0.1:0",
      "--metrics_port=off",
      "--threads=1",
      "--sessions=1",
      `--model=${repo.root}/judge/1/model.onnx`,
      `--tls_dir=${creds.serverTlsDir}`,
    ],
    {
      name: "judge",
      env: { JUDGE_ADMIN_TOKEN_FILE: creds.adminTokenFile },
      timeoutMs: 30_000,
    },
  );
  assert.equal(run.code, 0, `exit ${run.code} ${run.signal}; stderr: ${run.stderr}`);
  assert.equal(run.startLines.length, 1, run.stdout);
  assert.match(run.startLines[0]!, new RegExp(` repository=${repo.root}/judge/1 repository_from=model `));
  assert.match(run.startLines[0]!, / tls=mtls admin=token$/);
  assert.doesNotMatch(run.stderr, /WARNING/);
});

test("a contract-breaking model exits 1 with the contract message", async () => {
  const run = await runMain([`--model=${repo.root}/gen.onnx`, "--address=127.0.0.1:0", "--metrics_port=off"]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(
    run.stderr,
    /judge: cannot start: judge model .*gen\.onnx refused: output "logits" has shape \[batch, 16, 20\]; expected \[batch\] or \[batch, 1\]/,
  );
  assert.equal(run.stdout, "");
});

test("an unavailable execution provider and a mistyped flag stop the start with the reason", async () => {
  const [cuda, typo] = await Promise.all([
    cudaProviderInstalled() ? null : runMain(["--execution_provider=cuda", "--address=127.0.0.1:0", "--metrics_port=off"]),
    runMain(["--max_bacth=4"]),
  ]);
  if (cuda) {
    assert.equal(cuda.code, 1, cuda.stderr);
    assert.match(cuda.stderr, /execution provider "cuda" was requested but this onnxruntime-node has no CUDA provider.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
  }
  assert.equal(typo.code, 2);
  assert.match(
    typo.stderr,
    /^judge: unknown option --max_bacth; did you mean --max_batch\?\n\(node --import tsx services\/judge\/src\/main.ts --help lists every setting\)\n$/,
  );
});
