// The fleet bench end to end on a tiny model: 1 and 2 real judge replicas behind JudgeFleet, a
// step table and a swap table out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./fleet.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("bench fleet reports step seq/s and latency per replica count, and swap times", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bench-fleet-test-"));
  try {
    const model = join(dir, "tiny.onnx");
    const made = spawnSync(
      process.execPath,
      ["--import", "tsx", "services/judge/src/make-random-judge.ts", model, "--seq-len=16", "--n-layer=1", "--d-model=16", "--n-head=2", "--d-ff=32", "--vocab-size=12"],
      { cwd: ROOT, encoding: "utf8" },
    );
    assert.equal(made.status, 0, made.stderr);
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => lines.push(args.join(" "));
    try {
      await run([`--model=${model}`, "--replicas=1,2", "--judges=--sessions=1 --threads=1", "--sequences=24", "--group-size=4", "--steps=3", "--warmup=1", "--swaps=1"]);
    } finally {
      console.log = log;
    }
    const out = lines.join("\n");
    const rows = (re: RegExp) => out.split("\n").filter((l) => re.test(l)).map((l) => l.trim().split(/\s+/).slice(2).map(Number));
    // label "parallel 1×1", then: replicas, seqs/chunk, seq/s, p50, p99, mean
    const steps = rows(/^parallel 1×1\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+$/);
    assert.deepEqual(steps.map((r) => r.slice(0, 2)), [[1, 24], [2, 12]], out);
    for (const [, , seqPerS, p50, p99] of steps) assert.ok(seqPerS! > 0 && p50! >= 0 && p99! >= p50!, out);
    // then: replicas, LoadModel p50, load_ms p50, swapModel, per replica
    const swaps = rows(/^parallel 1×1\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+$/);
    assert.deepEqual(swaps.map((r) => r[0]), [1, 2], out);
    for (const [, wall, server, fleet] of swaps) assert.ok(wall! >= server! && server! > 0 && fleet! > 0, out);
    await assert.rejects(run(["--sequences=10", "--group-size=4"]), /--sequences=10 is not a multiple of --group-size=4/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
