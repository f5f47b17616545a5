// The fleet bench end to end on a tiny model: 1 and 2 real judge replicas behind JudgeFleet, a
// step table and a swap table out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSettings } from "@grpomesh/config";
import { run } from "./fleet.ts";
import { FLEET_BENCH_SETTINGS, fleetRelations } from "./settings.ts";
import { printedLines, withTinyJudge } from "./test/tiny-judge.ts";

const settings = (argv: string[]) => parseSettings(FLEET_BENCH_SETTINGS, { argv, check: fleetRelations }).config;

test("bench fleet reports step seq/s and latency per replica count, and swap times", () =>
  withTinyJudge(async (model) => {
    const lines = await printedLines(() =>
      run(
        settings([
          `--model=${model}`,
          "--replicas=1,2",
          "--judges=--sessions=1 --threads=1",
          "--sequences=24",
          "--group-size=4",
          "--steps=3",
          "--warmup=1",
          "--swaps=1",
        ]),
      ),
    );
    const out = lines.join("\n");
    const numbers = (re: RegExp) => lines.filter((l) => re.test(l)).map((l) => l.trim().split(/\s+/).slice(2).map(Number));
    // label "parallel 1×1", then: replicas, seqs/chunk, seq/s, p50, p99, mean
    const steps = numbers(/^parallel 1×1(\s+\d+){6}$/);
    assert.deepEqual(
      steps.map((r) => r.slice(0, 2)),
      [
        [1, 24],
        [2, 12],
      ],
      out,
    );
    for (const [, , seqPerS, p50, p99] of steps) assert.ok(seqPerS! > 0 && p50! >= 0 && p99! >= p50!, out);
    // then: replicas, LoadModel p50, its load_ms p50, swapModel, per replica
    const swaps = numbers(/^parallel 1×1(\s+\d+){5}$/);
    assert.deepEqual(
      swaps.map((r) => r[0]),
      [1, 2],
      out,
    );
    for (const [, wall, server, fleet] of swaps) assert.ok(wall! >= server! && server! > 0 && fleet! > 0, out);
    assert.throws(() => settings(["--sequences=10", "--group-size=4"]), /sequences 10 is not a multiple of group_size 4/);
  }));
