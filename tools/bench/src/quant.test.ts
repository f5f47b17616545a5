import { test } from "node:test";
import assert from "node:assert/strict";
import { agreement, spearman } from "@grpomesh/onnx-export/agreement";
import { stepFlops } from "./compute.ts";
import { validateConfig } from "@grpomesh/model";

test("Spearman by hand: identical order 1, reversed −1, ties at their mean rank", () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // ranks a = [0, 1, 2, 3], b = [0.5, 0.5, 2, 3]: r = 0.9486832…
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [5, 5, 6, 7]) - 0.9486832980505138) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])), "no spread: undefined");
});

test("agreement: same best member per group and within-group ranks, by hand", () => {
  // two groups of 3: the first keeps its order; the second swaps its top two
  const a = Float32Array.of(0.1, 0.5, 0.9, 0.3, 0.2, 0.1);
  const b = Float32Array.of(0.0, 0.4, 1.0, 0.2, 0.3, 0.1);
  const g = agreement(a, b, 3);
  assert.equal(g.groups, 2);
  assert.equal(g.sameBest, 0.5);
  assert.ok(Math.abs(g.spearmanWithinGroups - (1 + 0.5) / 2) < 1e-12, String(g.spearmanWithinGroups));
  assert.ok(Math.abs(g.maxAbsDiff - 0.1) < 1e-6);
});

test("a step's FLOPs: sample, reference and update over B inputs, the judge over B·k (flopsPerToken, 2 per multiply-add)", () => {
  const base = {
    vocab_size: 10,
    seq_len: 4,
    n_layer: 1,
    n_head: 1,
    d_model: 2,
    d_ff: 4,
    dropout: 0,
    ln_eps: 1e-5,
    activation: "gelu_tanh",
    vocab: ["[PAD]", "[MASK]", "a", "b", "c", "d", "e", "f", "g", "h"],
    mask_token_id: 1,
    pad_token_id: 0,
  };
  const policy = validateConfig({ ...base, model_type: "masked_lm" });
  const judge = validateConfig({ ...base, model_type: "sequence_scorer" });
  // per token: linear 1·(2·6 + 2·2 + 2·2·4) = 32 (+ D·V = 20 for the generator's head), attention 1·2·4·2 = 16
  const policyTok = 2 * (32 + 20 + 16),
    judgeTok = 2 * (32 + 16);
  const f = stepFlops(policy, judge, 3, 5, 4);
  assert.equal(f.sample, 3 * 4 * policyTok);
  assert.equal(f.reference, 3 * 4 * policyTok);
  assert.equal(f.update, 3 * 3 * 4 * policyTok);
  assert.equal(f.judge, 3 * 5 * 4 * judgeTok);
  assert.equal(f.total, f.sample + f.reference + f.update + f.judge);
});
