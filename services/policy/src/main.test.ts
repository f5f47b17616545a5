// main.ts as a process: one start line, health, graceful SIGTERM; a mistyped flag exits 2 and a
// missing checkpoint exits 1, each with the reason.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runTsx, runUntilServing } from "@grpomesh/rpc/testing";
import { initBackend } from "@grpomesh/model";
import { parseSettings } from "@grpomesh/config";
import { POLICY_ENV_PREFIX, POLICY_SETTINGS } from "./settings.ts";
import { tempDir, writeTinyCheckpoint } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const dir = tempDir();
writeTinyCheckpoint(`${dir.path}/gen`);
after(() => dir.remove());

const runMain = (args: string[]) => runTsx(MAIN, args, { env: { GRPOMESH_TF_BACKEND: "wasm" } });

test("serves with one start line, reports SERVING, and exits 0 on SIGTERM", async () => {
  const run = await runUntilServing(MAIN, [`--checkpoint=${dir.path}/gen`, "--address=127.0.0.1:0", "--metrics_port=off"], {
    name: "policy",
    healthService: "grpomesh.v1.PolicyService",
    env: { GRPOMESH_TF_BACKEND: "wasm", POLICY_MAX_BATCH: "32" },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.health, "SERVING");
  const starts = run.startLines;
  assert.equal(starts.length, 1, run.stdout);
  assert.match(starts[0]!, / engine="onnxruntime cpu, \d+ threads" engine_reason="auto: [^"]+" /);
  for (const field of [
    `checkpoint=${dir.path}/gen `,
    "layers=2 ",
    "d_model=32 ",
    "seq_len=16 ",
    "vocab=10 ",
    "version=0 ",
    "last_step=0 ",
    "max_batch=32 ",
    "metrics=off ",
  ]) {
    assert.ok(starts[0]!.includes(field), `start line lacks ${field}: ${starts[0]}`);
  }
  assert.match(starts[0]!, / params=\d+ .* digest=[0-9a-f]{16} /);
  assert.match(starts[0]!, / tls=off admin=none$/);
  assert.match(run.stderr, /policy: WARNING: plaintext gRPC .*no --admin_token_file: state-changing RPCs are refused/);
  assert.match(run.stdout, /SIGTERM, finishing in-flight requests/);
});

test("a mistyped flag exits 2 with a suggestion; a missing checkpoint exits 1 with the reason", async () => {
  const typo = await runMain([`--checkpont=${dir.path}/gen`]);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option --checkpont; did you mean --checkpoint\?/);
  const missing = await runMain([`--checkpoint=${dir.path}/none`, "--address=127.0.0.1:0", "--metrics_port=off"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /policy: cannot start: checkpoint folder .*none does not exist/);
});

test("flags win over POLICY_* variables, which win over the defaults; bad values are refused", () => {
  const parse = (argv: string[], env: Record<string, string> = {}) => parseSettings(POLICY_SETTINGS, { argv, env, envPrefix: POLICY_ENV_PREFIX });
  const { config } = parse(["--max-batch=12", "--metrics_port=0"], {
    POLICY_MAX_BATCH: "99",
    POLICY_ADDRESS: "127.0.0.1:7000",
    POLICY_CHECKPOINT_ROOT: "/runs",
  });
  assert.deepEqual(
    { b: config.max_batch, a: config.address, m: config.metrics_port, r: config.checkpoint_root, c: config.checkpoint, be: config.backend },
    { b: 12, a: "127.0.0.1:7000", m: 0, r: "/runs", c: "models/generator", be: "" },
  );
  const safe = parse([]).config;
  assert.deepEqual(
    { a: safe.address, h: safe.metrics_host, r: safe.checkpoint_root, t: safe.tls_dir, k: safe.admin_token_file },
    { a: "127.0.0.1:50071", h: "127.0.0.1", r: "runs", t: "", k: "" },
    "safe defaults: loopback, confined, no credentials",
  );
  assert.throws(() => parse(["--checkpoint_root="]), /option --checkpoint_root is ""; expected a non-empty string/);
  assert.equal(parse(["--metrics_port=off"]).config.metrics_port, "off");
  assert.equal(parse(["--help"]).help, true);
  assert.throws(() => parse(["--metrics_port=70000"]), /option --metrics_port is 70000; expected "off" or an integer in \[0, 65535\]/);
  assert.throws(() => parse(["--max_batch=0"]), /option --max_batch is 0; expected an integer ≥ 1/);
  assert.throws(() => parse(["--max_batch=1.5"]), /expected an integer/);
  assert.throws(() => parse(["--backend=tpu"]), /option --backend is "tpu"; expected one of "" \(empty\), node-gpu, node, wasm, cpu/);
  assert.throws(() => parse([], { POLICY_MAX_BATCH: "lots" }), /environment variable POLICY_MAX_BATCH is "lots"; expected an integer ≥ 1/);
});
