import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSettings, type Table } from "@grpomesh/config";
import { BENCHES } from "./registry.ts";
import { ENGINE_BENCH_SETTINGS, FLEET_BENCH_SETTINGS, JUDGE_BENCH_SETTINGS, PEER_BENCH_SETTINGS, STEP_BENCH_SETTINGS } from "./settings.ts";

const parse = <T extends Table>(table: T, argv: string[]) => parseSettings(table, { argv }).config;

test("every bench has a table whose defaults parse (and the registry names it)", () => {
  for (const [name, bench] of Object.entries(BENCHES)) assert.doesNotThrow(() => parseSettings(bench.settings, { argv: [], check: bench.check }), name);
  assert.equal(BENCHES.engine!.settings, ENGINE_BENCH_SETTINGS);
});

test("comma lists, choices and ranges are refused with what is expected; dashes are accepted", () => {
  const o = parse(ENGINE_BENCH_SETTINGS, ["--sizes=reference", "--engines=tfjs,onnx", "--group-size=4", "--micro-batch=2", "--budget-s=0"]);
  assert.deepEqual([o.sizes, o.engines, o.group_size, o.micro_batch, o.budget_s], ["reference", "tfjs,onnx", 4, "2", 0]);
  assert.throws(() => parse(ENGINE_BENCH_SETTINGS, ["--engines=torch"]), /option --engines is "torch"; expected a comma list of onnx, tfjs/);
  assert.throws(() => parse(ENGINE_BENCH_SETTINGS, ["--sizes=default,huge"]), /expected a comma list of default, reference/);
  assert.throws(() => parse(ENGINE_BENCH_SETTINGS, ["--runs=0"]), /option --runs is 0; expected an integer ≥ 1/);
  assert.throws(() => parse(ENGINE_BENCH_SETTINGS, ["--group_size=1"]), /option --group_size is 1; expected an integer ≥ 2/);
  assert.throws(() => parse(ENGINE_BENCH_SETTINGS, ["--micro_batch=half"]), /expected auto, 0 \(whole batch\) or a positive integer/);
  assert.throws(() => parse(ENGINE_BENCH_SETTINGS, ["--batch=3"]), /unknown option --batch/);
  assert.throws(() => parse(JUDGE_BENCH_SETTINGS, ["--concurrency=1,,4"]), /positive integers separated by commas/);
  assert.throws(() => parse(JUDGE_BENCH_SETTINGS, ["--judges=--address=x"]), /the bench sets --model, --address and --metrics_port itself/);
  assert.throws(() => parse(FLEET_BENCH_SETTINGS, ["--replicas=0"]), /positive integers separated by commas/);
  assert.throws(() => parse(STEP_BENCH_SETTINGS, ["--engines=onnx,torch"]), /a comma list of auto, onnx, tfjs/);
  assert.throws(() => parse(STEP_BENCH_SETTINGS, ["--tls=maybe"]), /one of on, off, both/);
  assert.throws(() => parse(PEER_BENCH_SETTINGS, ["--modes=repeat,all"]), /a comma list of repeat, group/);
  assert.throws(() => parse(PEER_BENCH_SETTINGS, ["--size=huge"]), /one of default, reference, both/);
});
