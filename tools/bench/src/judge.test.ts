// The judge bench end to end on a tiny model: two judge configurations, two concurrency levels, a table out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./judge.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("bench judge reports seq/s and latency for each scheduler and concurrency", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bench-judge-test-"));
  try {
    const model = join(dir, "tiny.onnx");
    // Spawned, not imported: the bench (scope:shared) must not depend on the judge service.
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
      await run([`--model=${model}`, "--batch=8", "--requests=6", "--warmup=1", "--concurrency=1,3", "--judges=--scheduler=microbatch --sessions=1 --threads=1;--scheduler=parallel --sessions=2 --threads=1"]);
    } finally {
      console.log = log;
    }
    const out = lines.join("\n");
    assert.match(out, new RegExp(`model: ${model} \\(--model\\)`));
    assert.match(out, /judge \(sessions×threads\)\s+concurrency\s+seq\/s\s+p50 ms\s+p99 ms/);
    const rows = lines.flatMap((l) => l.split("\n")).filter((l) => /^(microbatch 1×1|parallel 2×1)\s+\d/.test(l));
    assert.equal(rows.length, 4, out);
    for (const row of rows) {
      const [, , , seqPerS, p50, p99] = row.trim().split(/\s+/).map(Number);
      assert.ok(seqPerS! > 0 && p50! > 0 && p99! >= p50!, row);
    }
    assert.equal(lines.filter((l) => l.startsWith("judge: serving ")).length, 2);
    await assert.rejects(run(["--judges=--model=x.onnx"]), /--judges has "--model=x.onnx"; expected judge flags/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
