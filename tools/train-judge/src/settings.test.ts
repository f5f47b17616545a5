import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSettings } from "@grpomesh/config";
import { TRAIN_JUDGE_SETTINGS, trainJudgeRelations } from "./settings.ts";

const parse = (argv: string[]) => parseSettings(TRAIN_JUDGE_SETTINGS, { argv, check: trainJudgeRelations }).config;

test("--key=value overrides are typed by the table; the rest keep their defaults", () => {
  const o = parse(["--steps=12", "--version=judge-v2", "--random_share=0.5", '--masking={"kind":"random","ratio":[0.1,0.2]}']);
  assert.equal(o.steps, 12);
  assert.equal(o.version, "judge-v2");
  assert.equal(o.random_share, 0.5);
  assert.deepEqual(JSON.parse(o.masking), { kind: "random", ratio: [0.1, 0.2] });
  assert.equal(o.d_model, TRAIN_JUDGE_SETTINGS.d_model.default);
});

test("unknown keys, non-numbers, out-of-range values and bad relations are refused", () => {
  assert.throws(() => parse(["--stpes=3"]), /unknown option --stpes; did you mean --steps\?/);
  assert.throws(() => parse(["--steps=many"]), /option --steps is "many"; expected an integer ≥ 1/);
  assert.throws(() => parse(["--steps=2.5"]), /option --steps is 2.5; expected an integer ≥ 1/);
  assert.throws(() => parse(["--masking={kind"]), /option --masking is "\{kind"; expected a JSON masking spec/);
  assert.throws(() => parse(["--n_layer=-1"]), /option --n_layer is -1; expected an integer ≥ 0/);
  assert.throws(() => parse(["--init=pretrained"]), /option --init is "pretrained"; expected one of generator, scratch/);
  assert.throws(() => parse(["--batch_size=6", "--micro_batches=4"]), /batch_size 6 is not divisible by micro_batches 4/);
  assert.throws(() => parse(["--random_share=1.5"]), /option --random_share is 1.5; expected a number in \[0, 1\]/);
  assert.throws(() => parse(["--top_p=0"]), /option --top_p is 0; expected a number in \(0, 1\]/);
});
