import { test } from "node:test";
import assert from "node:assert/strict";
import { GRPO_DEFAULTS, checkGrpoConfig } from "./index.ts";

test("the seed's defaults are the defaults", () => {
  const { group_size, kl_beta, learning_rate, temperature, top_p, batch_size, advantage_norm, kl_estimator, token_reduction } = GRPO_DEFAULTS;
  assert.deepEqual(
    { group_size, kl_beta, learning_rate, temperature, top_p, batch_size, advantage_norm, kl_estimator, token_reduction },
    {
      group_size: 8,
      kl_beta: 0.1,
      learning_rate: 1e-5,
      temperature: 0.8,
      top_p: 0.95,
      batch_size: 16,
      advantage_norm: "global",
      kl_estimator: "exact",
      token_reduction: "sum",
    },
  );
  checkGrpoConfig(GRPO_DEFAULTS);
});

test("relations between settings are checked, every problem named at once", () => {
  assert.throws(
    () => checkGrpoConfig({ ...GRPO_DEFAULTS, group_size: 1, top_p: 0, batch_size: 16, micro_batch_size: 5 }),
    (e: Error) =>
      /group_size is 1; expected an integer ≥ 2/.test(e.message) &&
      /top_p is 0/.test(e.message) &&
      /batch_size 16 is not a multiple of micro_batch_size 5/.test(e.message),
  );
});
