// main.ts as a process: one start line, health, graceful SIGTERM; a checkpoint that does not speak
// the dataset's vocabulary (here the default, the repository's KJV metadata) exits 1 with the reason.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { createLocalCredentials } from "@grpomesh/rpc";
import { runTsx, runUntilServing } from "@grpomesh/rpc/testing";
import { REPO_ROOT } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { parseSettings } from "@grpomesh/config";
import { REFERENCE_ENV_PREFIX, REFERENCE_SETTINGS } from "./settings.ts";
import { datasetMetaPath } from "./reference-server.ts";
import { tempDir, writeDatasetMeta, writeTinyCheckpoint, TINY_VOCAB } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const dir = tempDir();
writeTinyCheckpoint(`${dir.path}/gen`);
writeDatasetMeta(`${dir.path}/tiny.meta.json`, TINY_VOCAB);
after(() => dir.remove());

const runMain = (args: string[]) => runTsx(MAIN, args, { env: { GRPOMESH_TF_BACKEND: "wasm" } });

test("serves with one start line, reports SERVING, and exits 0 on SIGTERM", async () => {
  const run = await runUntilServing(MAIN, [`--checkpoint=${dir.path}/gen`, "--address=127.0.0.1:0", "--metrics_port=off"], {
    name: "reference",
    healthService: "grpomesh.v1.ReferenceService",
    env: { GRPOMESH_TF_BACKEND: "wasm", REFERENCE_DATASET_META: `${dir.path}/tiny.meta.json` },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.health, "SERVING");
  const starts = run.startLines;
  assert.equal(starts.length, 1, run.stdout);
  assert.match(starts[0]!, / engine="onnxruntime cpu, \d+ threads" engine_reason="auto: [^"]+" /);
  for (const field of [`checkpoint=${dir.path}/gen `, "layers=2 ", "d_model=32 ", "vocab=10 ", `dataset_meta=${dir.path}/tiny.meta.json `, "metrics=off"]) {
    assert.ok(starts[0]!.includes(field), `start line lacks ${field}: ${starts[0]}`);
  }
  assert.match(starts[0]!, / digest=[0-9a-f]{16} /);
  assert.match(starts[0]!, / tls=off admin=none$/);
  assert.match(run.stderr, /reference: WARNING: plaintext gRPC \(no --tls_dir\)/);
});

test("with --tls_dir and --admin_token_file it serves mutual TLS, says so on the start line, and warns of nothing", async () => {
  const creds = await createLocalCredentials(`${dir.path}/secrets`);
  const run = await runUntilServing(MAIN, [`--checkpoint=${dir.path}/gen`, "--address=127.0.0.1:0", "--metrics_port=off", `--tls_dir=${creds.serverTlsDir}`], {
    name: "reference",
    env: { GRPOMESH_TF_BACKEND: "wasm", REFERENCE_DATASET_META: `${dir.path}/tiny.meta.json`, REFERENCE_ADMIN_TOKEN_FILE: creds.adminTokenFile },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.startLines.length, 1, run.stdout);
  assert.match(run.startLines[0]!, / tls=mtls admin=token$/);
  assert.doesNotMatch(run.stderr, /WARNING/);
});

test("refuses at start, exit 1, a checkpoint whose vocabulary is not the default dataset's", async () => {
  const run = await runMain([`--checkpoint=${dir.path}/gen`, "--address=127.0.0.1:0", "--metrics_port=off"]);
  assert.equal(run.code, 1, run.stdout);
  assert.match(
    run.stderr,
    /reference: cannot start: the reference checkpoint does not speak the dataset's vocabulary: token id 2 is " " in the checkpoint .*gen but "\\n" in the dataset .*kjv\.meta\.json/,
  );
  assert.equal(run.stdout, "");
});

test("settings: the default dataset metadata is the repository's; none turns the check off; safe defaults", () => {
  const parse = (argv: string[], env: Record<string, string> = {}) => parseSettings(REFERENCE_SETTINGS, { argv, env, envPrefix: REFERENCE_ENV_PREFIX }).config;
  assert.equal(datasetMetaPath(parse([]).dataset_meta), join(REPO_ROOT, "data/corpus/kjv.meta.json"));
  assert.equal(datasetMetaPath(parse(["--dataset_meta=none"]).dataset_meta), null);
  assert.equal(datasetMetaPath(parse([], { REFERENCE_DATASET_META: "/x/y.json" }).dataset_meta), "/x/y.json");
  const safe = parse([]);
  assert.deepEqual(
    { a: safe.address, h: safe.metrics_host, t: safe.tls_dir, k: safe.admin_token_file },
    { a: "127.0.0.1:50072", h: "127.0.0.1", t: "", k: "" },
    "safe defaults: loopback, no credentials",
  );
  const given = parse(["--tls_dir=/secrets/tls", "--metrics_host=0.0.0.0"], { REFERENCE_ADMIN_TOKEN_FILE: "/secrets/token" });
  assert.deepEqual({ t: given.tls_dir, k: given.admin_token_file, h: given.metrics_host }, { t: "/secrets/tls", k: "/secrets/token", h: "0.0.0.0" });
  assert.throws(() => parse(["--replay_window=3"]), /unknown option --replay_window/);
});
