// main.ts as a process: one start line, health, graceful SIGTERM; a checkpoint that does not speak
// the dataset's vocabulary (here the default, the repository's KJV metadata) exits 1 with the reason.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { checkHealth } from "@grpomesh/rpc";
import { REPO_ROOT } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { parseReferenceConfig } from "./config.ts";
import { tempDir, writeDatasetMeta, writeTinyCheckpoint, TINY_VOCAB } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const dir = tempDir();
writeTinyCheckpoint(`${dir.path}/gen`);
writeDatasetMeta(`${dir.path}/tiny.meta.json`, TINY_VOCAB);
after(() => dir.remove());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runMain(args: string[], env: Record<string, string> = {}, onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { env: { ...process.env, GRPOMESH_TF_BACKEND: "wasm", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.on("data", (d: Buffer) => {
      const before = stdout.length;
      stdout += d.toString();
      for (const line of stdout.slice(before).split("\n")) if (line && onLine) onLine(line, (s) => child.kill(s));
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("serves with one start line, reports SERVING, and exits 0 on SIGTERM", async () => {
  let health = "";
  let checks: Promise<void> = Promise.resolve();
  const run = await runMain([`--checkpoint=${dir.path}/gen`, "--address=127.0.0.1:0", "--metrics-port=off"], { REFERENCE_DATASET_META: `${dir.path}/tiny.meta.json` }, (line, kill) => {
    const address = /^reference: serving address=(\S+)/.exec(line)?.[1];
    if (!address) return;
    checks = checkHealth(address, "grpomesh.v1.ReferenceService").then(
      (s) => void ((health = s), kill("SIGTERM")),
      (e: Error) => void ((health = e.message), kill("SIGTERM")),
    );
  });
  await checks;
  assert.equal(run.code, 0, run.stderr);
  assert.equal(health, "SERVING");
  const starts = run.stdout.split("\n").filter((l) => l.startsWith("reference: serving "));
  assert.equal(starts.length, 1, run.stdout);
  for (const field of ["backend=wasm ", `checkpoint=${dir.path}/gen `, "layers=2 ", "d_model=32 ", "vocab=10 ", `dataset_meta=${dir.path}/tiny.meta.json `, "metrics=off"]) {
    assert.ok(starts[0]!.includes(field), `start line lacks ${field}: ${starts[0]}`);
  }
  assert.match(starts[0]!, / digest=[0-9a-f]{16} /);
});

test("refuses at start, exit 1, a checkpoint whose vocabulary is not the default dataset's", async () => {
  const run = await runMain([`--checkpoint=${dir.path}/gen`, "--address=127.0.0.1:0", "--metrics-port=off"]);
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stderr, /reference: cannot start: the reference checkpoint does not speak the dataset's vocabulary: token id 2 is " " in the checkpoint .*gen but "\\n" in the dataset .*kjv\.meta\.json/);
  assert.equal(run.stdout, "");
});

test("flags: the default dataset metadata is the repository's; none turns the check off", () => {
  assert.equal(parseReferenceConfig([]).config.datasetMeta, join(REPO_ROOT, "data/corpus/kjv.meta.json"));
  assert.equal(parseReferenceConfig(["--dataset-meta=none"]).config.datasetMeta, null);
  assert.equal(parseReferenceConfig([], { REFERENCE_DATASET_META: "/x/y.json" }).config.datasetMeta, "/x/y.json");
  assert.equal(parseReferenceConfig([]).config.address, "0.0.0.0:50072");
  assert.throws(() => parseReferenceConfig(["--replay-window=3"]), /unknown option --replay-window/);
});
