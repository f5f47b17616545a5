// The orchestrator's start-up checks against real services (slow, still in CI): a judge trained
// on another vocabulary is refused before the first step, with a message naming the difference.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { ROOT, startStack } from "./stack.ts";
import { freePort } from "./supervisor.ts";
import { writeCharacterJudge, writeTinyGenerator } from "./test-models.ts";

test("a judge whose vocabulary differs from the dataset's is refused at start", { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-startup-"));
  try {
    await initBackend(undefined, { log: false });
    const { vocab } = loadCorpus();
    writeTinyGenerator(join(dir, "generator"), vocab.tokens, { seqLen: 32 });
    const swapped = [...vocab.tokens];
    [swapped[10], swapped[11]] = [swapped[11]!, swapped[10]!];
    writeCharacterJudge(join(dir, "judge.onnx"), swapped, "e", { seqLen: 32 });
    const stack = await startStack({ generator: join(dir, "generator"), judgeModel: join(dir, "judge.onnx"), judges: 1, logDir: join(dir, "logs") });
    try {
      const res = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          join(ROOT, "services/orchestrator/src/main.ts"),
          ...stack.orchestratorFlags,
          `--address=127.0.0.1:${await freePort()}`,
          `--run_dir=${join(dir, "run")}`,
          "--task=kjv",
          "--max_iters=2",
        ],
        { cwd: ROOT, encoding: "utf8" },
      );
      assert.equal(res.status, 1, res.stdout + res.stderr);
      assert.match(
        res.stderr,
        new RegExp(
          `token id 10 is ${JSON.stringify(swapped[10]).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} in the judge .* but .* in the dataset; use a judge made for task kjv`,
        ),
      );
      assert.doesNotMatch(res.stdout, /^step /m, "a step ran before the check");
    } finally {
      await stack.supervisor.stopAll();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
