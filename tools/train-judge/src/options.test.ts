import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_OPTIONS, parseOptions } from "./options.ts";

test("--key=value overrides keep the defaults' types", () => {
  const o = parseOptions(["--steps=12", "--version=judge-v2", "--random_share=0.5", '--masking={"kind":"random","ratio":[0.1,0.2]}']);
  assert.equal(o.steps, 12);
  assert.equal(o.version, "judge-v2");
  assert.equal(o.random_share, 0.5);
  assert.deepEqual(o.masking, { kind: "random", ratio: [0.1, 0.2] });
  assert.equal(o.d_model, DEFAULT_OPTIONS.d_model);
  assert.notEqual(DEFAULT_OPTIONS.steps, 12, "defaults are not modified");
});

test("unknown keys, non-numbers and out-of-range values are refused", () => {
  assert.throws(() => parseOptions(["--stpes=3"]), /unknown option --stpes; expected one of generator, out/);
  assert.throws(() => parseOptions(["--steps=many"]), /--steps=many is not a number; the default is \d+/);
  assert.throws(() => parseOptions(["--steps="]), /--steps= is not a number/);
  assert.throws(() => parseOptions(["steps=3"]), /argument "steps=3" is not --key=value/);
  assert.throws(() => parseOptions(["--masking={kind"]), /--masking must be JSON like/);
  assert.throws(() => parseOptions(["--steps=2.5"]), /steps is 2.5; expected a positive integer/);
  assert.throws(() => parseOptions(["--n_layer=-1"]), /n_layer is -1; expected a positive integer, or 0 for the generator's value/);
  assert.throws(() => parseOptions(["--init=pretrained"]), /init is "pretrained"; expected "generator" or "scratch"/);
  assert.throws(() => parseOptions(["--batch_size=6", "--micro_batches=4"]), /batch_size 6 is not divisible by micro_batches 4/);
  assert.throws(() => parseOptions(["--random_share=1.5"]), /random_share is 1.5; expected a number in \[0, 1\]/);
  assert.throws(() => parseOptions(["--top_p=0"]), /top_p is 0; expected a number in \(0, 1\]/);
});
