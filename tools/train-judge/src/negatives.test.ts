import { before, test } from "node:test";
import assert from "node:assert/strict";
import { expectedTensorShapes, initBackend, MaskedTransformer, validateConfig } from "@grpomesh/model";
import type { ModelConfig } from "@grpomesh/model";
import { makeNegatives, OnnxGenerator } from "./negatives.ts";
import type { NegativeOptions } from "./negatives.ts";

const VOCAB = ["[PAD]", "[MASK]", "a", "b", "c", "d", " "];
const MASK = 1;
const T = 8;

function tinyGeneratorConfig(vocab = VOCAB): ModelConfig {
  return validateConfig({
    model_type: "masked_lm",
    vocab_size: vocab.length,
    seq_len: T,
    n_layer: 1,
    n_head: 2,
    d_model: 8,
    d_ff: 16,
    dropout: 0,
    ln_eps: 1e-5,
    activation: "gelu_tanh",
    vocab,
    mask_token_id: MASK,
    pad_token_id: 0,
  });
}

/** Windows "abcd abc" / "dcba dcb" with a few positions masked. */
function windows(): Pick<NegativeOptions, "inputs" | "targets" | "batch"> {
  const targets = Int32Array.from([2, 3, 4, 5, 6, 2, 3, 4, 5, 4, 3, 2, 6, 5, 4, 3]);
  const inputs = targets.slice();
  for (const p of [1, 2, 6, 8, 15]) inputs[p] = MASK;
  return { inputs, targets, batch: 2 };
}

function options(overrides: Partial<NegativeOptions> = {}): NegativeOptions {
  return {
    ...windows(),
    seqLen: T,
    maskTokenId: MASK,
    specialIds: [MASK, 0],
    vocabSize: VOCAB.length,
    randomShare: 0,
    temperature: 1,
    topP: 1,
    seed: 3,
    ...overrides,
  };
}

before(async () => {
  await initBackend(undefined, { log: false });
});

test("generator negatives follow the generator: a head that prefers 'd' fills every masked position with 'd'", async () => {
  const config = tinyGeneratorConfig();
  const model = new MaskedTransformer(config, { seed: 1 });
  const weights = model.getWeights();
  model.dispose();
  weights.get("head.bias")![5] = 30; // 'd'
  const generator = await OnnxGenerator.create(config, weights);
  try {
    const neg = await makeNegatives(generator, options());
    assert.deepEqual(neg.kinds, ["generator", "generator"]);
    assert.deepEqual([...neg.ids], [2, 5, 5, 5, 6, 2, 5, 4, 5, 4, 3, 2, 6, 5, 4, 5]);
    assert.deepEqual([...neg.identical], [0, 0]);
  } finally {
    await generator.release();
  }
});

test("negatives keep unmasked positions, never produce specials, and are deterministic in the seed", async () => {
  const config = tinyGeneratorConfig();
  const model = new MaskedTransformer(config, { seed: 2 });
  const generator = await OnnxGenerator.create(config, model.getWeights());
  model.dispose();
  try {
    const o = options({ randomShare: 0.5, seed: 9 });
    const a = await makeNegatives(generator, o);
    const b = await makeNegatives(generator, o);
    assert.deepEqual(a, b);
    for (let p = 0; p < o.inputs.length; p++) {
      if (o.inputs[p] === MASK) assert.ok(a.ids[p]! >= 2, `position ${p} got special ${a.ids[p]}`);
      else assert.equal(a.ids[p], o.targets[p]);
    }
    const seeds = await Promise.all([10, 11, 12, 13].map((seed) => makeNegatives(generator, { ...o, seed })));
    assert.ok(
      seeds.some((n) => n.ids.join() !== a.ids.join()),
      "other seeds give other fills",
    );
  } finally {
    await generator.release();
  }
});

test("random negatives need no generator; a fill that reproduces the window is flagged identical", async () => {
  const neg = await makeNegatives(null, options({ randomShare: 1 }));
  assert.deepEqual(neg.kinds, ["random", "random"]);
  // With one character in the vocabulary, a random fill can only reproduce the original.
  const one = ["[PAD]", "[MASK]", "a"];
  const targets = new Int32Array(2 * T).fill(2);
  const inputs = targets.slice();
  inputs[3] = MASK;
  inputs[12] = MASK;
  const same = await makeNegatives(null, { ...options({ randomShare: 1 }), inputs, targets, vocabSize: one.length });
  assert.deepEqual([...same.identical], [1, 1]);
  await assert.rejects(() => makeNegatives(null, options({ randomShare: 0 })), /generator negatives were asked for but no generator was given/);
});

test("a generator checkpoint that is not a masked_lm is refused", async () => {
  const config = validateConfig({ ...tinyGeneratorConfig(), model_type: "sequence_scorer" });
  const weights = new Map([...expectedTensorShapes(config)].map(([n, s]) => [n, new Float32Array(s.reduce((x, y) => x * y, 1))]));
  await assert.rejects(() => OnnxGenerator.create(config, weights), /the generator must be a masked_lm; got a sequence_scorer/);
});
