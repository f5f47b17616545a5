// The trainer's long-running path — logits, gradients and AdamW step after step, with the batch
// shape changing — must not accumulate sessions or memory: the per-shape session caches stay at
// their size, evicted sessions are released, and the process's memory levels off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultGeneratorConfig, expectedTensorShapes } from "@grpomesh/model/format";
import { Rng } from "@grpomesh/rng";
import { needsWebgpu } from "@grpomesh/onnx-export/testing";
import { OnnxTrainer } from "./trainer.ts";

const VOCAB = ["[PAD]", "[MASK]", " ", "a", "b", "c", "d", "e", "f", "g"];
const config = defaultGeneratorConfig(VOCAB, { seq_len: 16, n_layer: 2, n_head: 2, d_model: 32, d_ff: 64 });
const T = config.seq_len,
  V = config.vocab_size,
  K = 3;

function batch(B: number, seed: number) {
  const rng = new Rng(seed);
  const mask = Uint8Array.from({ length: B * T }, (_, p) => (p % T === 0 || rng.next() < 0.3 ? 1 : 0));
  const ids = Int32Array.from(mask, (m) => (m ? config.mask_token_id : 2 + rng.nextInt(V - 2)));
  const completions = Int32Array.from({ length: B * K * T }, () => 2 + rng.nextInt(V - 2));
  const refLogProbs = new Float32Array(B * T * V).fill(Math.log(1 / (V - 2)));
  for (let p = 0; p < B * T; p++) refLogProbs[p * V] = refLogProbs[p * V + 1] = -1e9;
  const advantages = Float32Array.from({ length: B * K }, () => rng.normal());
  return { ids, inputs: { batchSize: B, groupSize: K, seqLen: T, vocabSize: V, completions, mask, advantages, refLogProbs } };
}

for (const provider of ["cpu", "webgpu"]) {
  test(
    `steps with changing batch shapes keep at most sessionCacheSize sessions per kind and level off in memory (${provider})`,
    { timeout: 300_000 },
    async (t) => {
      // on WebGPU (a software adapter on machines without a GPU) device buffers live in the process too
      if (provider === "webgpu" && !needsWebgpu(t)) return;
      const rng = new Rng(1);
      const weights = new Map(
        [...expectedTensorShapes(config)].map(([name, shape]) => [
          name,
          Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.02),
        ]),
      );
      const trainer = await OnnxTrainer.create(config, weights, {
        threads: 1,
        sessionCacheSize: 2,
        executionProviders: [provider, "cpu"].slice(0, provider === "cpu" ? 1 : 2),
      });
      const sizes = [1, 2, 3, 4, 5]; // more shapes than the cache holds: every round evicts
      const step = async (n: number) => {
        const B = sizes[n % sizes.length]!;
        const { ids, inputs } = batch(B, n);
        await trainer.logits(ids, B, T);
        const { grads, values } = await trainer.lossAndGrads(ids, inputs, { sampleCount: B * K }, 0.8, [0, 1]);
        assert.ok(Number.isFinite(values.loss));
        await trainer.applyAdamW(grads, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
      };
      try {
        for (let n = 0; n < 2 * sizes.length; n++) await step(n); // every shape built (and evicted) at least once
        global.gc?.();
        const before = process.memoryUsage().rss;
        for (let n = 0; n < 6 * sizes.length; n++) await step(n);
        global.gc?.();
        const grown = (process.memoryUsage().rss - before) / 2 ** 20;
        const counts = trainer.sessionCounts();
        assert.ok(counts.forward <= 2 && counts.train <= 2, `cached sessions ${JSON.stringify(counts)}; the cache size is 2`);
        // eviction releases asynchronously; everything created is cached, the AdamW session, or released
        await new Promise((r) => setTimeout(r, 50));
        const settled = trainer.sessionCounts();
        assert.equal(settled.open, settled.forward + settled.train + 1, `open sessions ${JSON.stringify(settled)}: evicted sessions were not released`);
        // 30 steps that each built and dropped sessions: a leak of one session (≈ 1 MB here) or of a
        // step's buffers per step would show as tens of MB; the bound leaves room for allocator noise.
        assert.ok(grown < 40, `resident memory grew ${grown.toFixed(1)} MiB over 30 steps`);
      } finally {
        await trainer.release();
      }
    },
  );
}
