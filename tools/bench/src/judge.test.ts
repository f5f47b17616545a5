// The judge bench end to end on a tiny model: two judge configurations, two concurrency levels, a table out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSettings } from "@grpomesh/config";
import { run } from "./judge.ts";
import { JUDGE_BENCH_SETTINGS } from "./settings.ts";
import { printedLines, withTinyJudge } from "./test/tiny-judge.ts";

const settings = (argv: string[]) => parseSettings(JUDGE_BENCH_SETTINGS, { argv }).config;

test("bench judge reports seq/s and latency for each scheduler and concurrency", () =>
  withTinyJudge(async (model) => {
    const lines = await printedLines(() =>
      run(
        settings([
          `--model=${model}`,
          "--batch=8",
          "--requests=6",
          "--warmup=1",
          "--concurrency=1,3",
          "--judges=--scheduler=microbatch --sessions=1 --threads=1;--scheduler=parallel --sessions=2 --threads=1",
        ]),
      ),
    );
    const out = lines.join("\n");
    assert.match(out, new RegExp(`model: ${model} \\(--model\\)`));
    assert.match(out, /judge \(sessions×threads\)\s+concurrency\s+seq\/s\s+p50 ms\s+p99 ms/);
    const rows = lines.filter((l) => /^(microbatch 1×1|parallel 2×1)\s+\d/.test(l));
    assert.equal(rows.length, 4, out);
    for (const row of rows) {
      const [, , , seqPerS, p50, p99] = row.trim().split(/\s+/).map(Number);
      assert.ok(seqPerS! > 0 && p50! > 0 && p99! >= p50!, row);
    }
    assert.equal(lines.filter((l) => l.startsWith("judge: serving ")).length, 2);
    assert.throws(() => settings(["--judges=--model=x.onnx"]), /option --judges is "--model=x.onnx"; expected judge configurations/);
  }));
