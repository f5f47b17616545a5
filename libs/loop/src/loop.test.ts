import { test } from "node:test";
import assert from "node:assert/strict";
import { loadCorpus } from "@grpomesh/data";
import { CorpusData, GRPO_DEFAULTS, checkGrpoConfig } from "./index.ts";

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

test("training batches resume from a cursor; evaluation batches are the same for every run seed", () => {
  const corpus = loadCorpus();
  const a = new CorpusData({ corpus, seqLen: 32, batchSize: 4, seed: 1, evalBatches: 2 });
  a.next();
  const cursor = a.cursor();
  const next = a.next();
  const b = new CorpusData({ corpus, seqLen: 32, batchSize: 4, seed: 1, evalBatches: 2 });
  b.seek(cursor);
  assert.deepEqual(b.next().inputs, next.inputs);
  const other = new CorpusData({ corpus, seqLen: 32, batchSize: 4, seed: 2, evalBatches: 2 });
  assert.notDeepEqual(other.next().inputs, new CorpusData({ corpus, seqLen: 32, batchSize: 4, seed: 1, evalBatches: 2 }).next().inputs);
  assert.deepEqual(
    other.evalBatches().map((x) => x.inputs),
    a.evalBatches().map((x) => x.inputs),
  );
  // Held-out batches come from the held-out split: every window is a slice of it.
  const held = corpus.vocab.decode(corpus.heldout);
  for (const batch of a.evalBatches()) {
    for (let i = 0; i < batch.batchSize; i++) assert.ok(held.includes(corpus.vocab.decode(batch.targets.subarray(i * 32, (i + 1) * 32))));
  }
});
