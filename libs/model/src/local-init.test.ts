import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "@grpomesh/rng";
import { defaultGeneratorConfig, expectedTensorShapes } from "./config.ts";
import { localAttentionInit } from "./local-init.ts";

test("after the local init each layer-0 head attends most to its offset (−1, +1, −2, +2)", () => {
  const vocab = ["[PAD]", "[MASK]", ..."abcdefgh"];
  const config = defaultGeneratorConfig(vocab, { seq_len: 48, d_model: 64, n_head: 4, d_ff: 128, n_layer: 1 });
  // GPT-2 style starting values (normal(0, 0.02)), as MaskedTransformer makes them.
  const rng = new Rng(1);
  const w = new Map(
    [...expectedTensorShapes(config)].map(([name, shape]) => [
      name,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.02 * rng.normal()),
    ]),
  );
  localAttentionInit(config, w, 6);
  assert.deepEqual([...expectedTensorShapes(config).keys()].sort(), [...w.keys()].sort());
  const D = 64,
    H = 4,
    dh = 16,
    T = 48;
  const tok = w.get("tok_emb.weight")!,
    pos = w.get("pos_emb.weight")!,
    qkv = w.get("blocks.0.attn.qkv.weight")!;
  // LayerNorm (weight 1, bias 0 at init) of token + position, then q/k projections for one head.
  const ln = (v: number, t: number) => {
    const x = Array.from({ length: D }, (_, i) => tok[v * D + i]! + pos[t * D + i]!);
    const mean = x.reduce((a, b) => a + b, 0) / D;
    const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / D + 1e-5);
    return x.map((y) => (y - mean) / sd);
  };
  const project = (x: number[], col: number) => Array.from({ length: dh }, (_, c) => x.reduce((s, xi, r) => s + xi * qkv[r * 3 * D + col + c]!, 0));
  const offsets = [-1, 1, -2, 2];
  for (let h = 0; h < H; h++) {
    for (const i of [10, 24, 37]) {
      const q = project(ln(1, i), h * dh); // a [MASK] query
      const scores = Array.from({ length: T }, (_, j) => project(ln(2 + (j % 8), j), D + h * dh).reduce((s, k, c) => s + k * q[c]!, 0) / Math.sqrt(dh));
      const best = scores.indexOf(Math.max(...scores));
      assert.equal(best, i + offsets[h]!, `head ${h} at position ${i} attends most to ${best}`);
      const sorted = [...scores].sort((a, b) => b - a);
      assert.ok(sorted[0]! - sorted[1]! > 0.5, `head ${h} at ${i}: margin ${sorted[0]! - sorted[1]!} too small to focus`);
    }
  }
});
