import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultGeneratorConfig, expectedTensorShapes, flopsPerToken, parameterCount, validateConfig } from "./config.ts";
import { TINY_VOCAB, tinyConfig } from "./test/fixtures.ts";

test("the default generator: 4 layers, d_model 128, 4 heads, seq_len 128, d_ff 512", () => {
  const vocab = ["[PAD]", "[MASK]", ...Array.from({ length: 73 }, (_, i) => String.fromCharCode(32 + i))];
  const c = defaultGeneratorConfig(vocab);
  assert.deepEqual(
    {
      n_layer: c.n_layer,
      d_model: c.d_model,
      n_head: c.n_head,
      seq_len: c.seq_len,
      d_ff: c.d_ff,
      vocab_size: c.vocab_size,
      mask: c.mask_token_id,
      pad: c.pad_token_id,
    },
    { n_layer: 4, d_model: 128, n_head: 4, seq_len: 128, d_ff: 512, vocab_size: 75, mask: 1, pad: 0 },
  );
  // By hand: embeddings 75·128 + 128·128; per layer 4·128 (LN) + 128·384 + 384 + 128·128 + 128 + 128·512 + 512 + 512·128 + 128;
  // final LN 256; head 128·75 + 75.
  const perLayer = 4 * 128 + 128 * 384 + 384 + 128 * 128 + 128 + 128 * 512 + 512 + 512 * 128 + 128;
  assert.equal(parameterCount(c), 75 * 128 + 128 * 128 + 4 * perLayer + 256 + 128 * 75 + 75);
  const f = flopsPerToken(c);
  assert.equal(f.forward, 2 * (4 * (3 * 128 * 128 + 128 * 128 + 2 * 128 * 512) + 128 * 75) + 2 * 4 * 2 * 128 * 128);
  assert.equal(f.train, 3 * f.forward);
  assert.throws(() => defaultGeneratorConfig(["a", "b"]), /no "\[MASK\]" token/);
});

test("validation lists every problem at once", () => {
  const bad = { ...tinyConfig(), d_model: 15, n_layer: 0, vocab_size: 11, mask_token_id: 40, surprise: 1, activation: "relu" };
  assert.throws(
    () => validateConfig(bad),
    (e: Error) =>
      /d_model \(15\) must be divisible by n_head \(2\)/.test(e.message) &&
      /n_layer must be a positive integer/.test(e.message) &&
      /vocab has 10 tokens but vocab_size is 11/.test(e.message) &&
      /mask_token_id must be an integer in \[0, vocab_size=11\); got 40/.test(e.message) &&
      /unknown key "surprise"/.test(e.message) &&
      /activation must be "gelu_tanh"/.test(e.message),
  );
  const { pad_token_id: _, ...missing } = tinyConfig();
  assert.throws(() => validateConfig(missing), /missing key "pad_token_id"/);
  assert.throws(() => validateConfig("{}"), /must be a JSON object/);
});

test("expected tensors follow docs/model-format.md for both heads", () => {
  const lm = expectedTensorShapes(tinyConfig());
  assert.deepEqual(lm.get("blocks.1.attn.qkv.weight"), [16, 48]);
  assert.deepEqual(lm.get("head.weight"), [16, TINY_VOCAB.length]);
  assert.ok(!lm.has("score.weight"));
  const scorer = expectedTensorShapes(tinyConfig({ model_type: "sequence_scorer" }));
  assert.deepEqual(scorer.get("score.weight"), [16, 1]);
  assert.deepEqual(scorer.get("score.bias"), [1]);
  assert.ok(!scorer.has("head.weight"));
  assert.equal(lm.size, 2 + 2 * 12 + 2 + 2);
});
