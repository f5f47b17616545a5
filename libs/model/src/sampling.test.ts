import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "./backend.ts";
import { BANNED_LOGIT, logSoftmaxWithTemperature, maskedLogProbs, sampleFillIns, specialTokenIds } from "./sampling.ts";
import { MaskedTransformer } from "./transformer.ts";
import { tinyConfig } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

const MASK = 1;
const T = 12;
const V = 10;
const config = tinyConfig();
const model = new MaskedTransformer(config, { seed: 11 });

// Three inputs with different masks.
const inputs = Int32Array.from([4, 1, 6, 1, 7, 8, 9, 4, 1, 6, 7, 8, 1, 1, 1, 5, 5, 5, 3, 3, 3, 1, 1, 1, 9, 8, 7, 6, 5, 4, 3, 2, 9, 8, 7, 1]);
const B = 3;
const base = { batch: B, seqLen: T, maskTokenId: MASK, temperature: 0.8, topP: 0.95, seed: 42 };

test("completions fill every masked position, keep the rest, never produce [MASK] or [PAD]", async () => {
  const k = 8;
  const out = await sampleFillIns(model, inputs, { ...base, groupSize: k, temperature: 3, topP: 1 });
  assert.equal(out.completions.length, B * k * T);
  assert.equal(out.logProbs.length, B * k);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < k; j++)
      for (let t = 0; t < T; t++) {
        const x = inputs[b * T + t]!;
        const y = out.completions[(b * k + j) * T + t]!;
        if (x === MASK) assert.ok(!specialTokenIds(config).includes(y), `sampled special ${y}`);
        else assert.equal(y, x);
      }
});

test("same seed gives the same completions; another seed different ones", async () => {
  const opts = { ...base, groupSize: 8, temperature: 2, topP: 1 };
  const a = await sampleFillIns(model, inputs, opts);
  const b = await sampleFillIns(model, inputs, opts);
  const c = await sampleFillIns(model, inputs, { ...opts, seed: 43 });
  assert.deepEqual(a.completions, b.completions);
  assert.deepEqual(a.logProbs, b.logProbs);
  assert.notDeepEqual(a.completions, c.completions);
});

test("log-probs: sum of per-token log-probs at τ before top-p, equal to maskedLogProbs at the chosen tokens", async () => {
  const k = 4;
  const out = await sampleFillIns(model, inputs, { ...base, groupSize: k, topP: 0.5, returnTokenLogProbs: true });
  const dist = await maskedLogProbs(model, inputs, { ...base });
  for (let b = 0; b < B; b++)
    for (let j = 0; j < k; j++) {
      let sum = 0;
      for (let t = 0; t < T; t++) {
        const lp = out.tokenLogProbs![(b * k + j) * T + t]!;
        if (inputs[b * T + t] !== MASK) {
          assert.equal(lp, 0);
          continue;
        }
        const token = out.completions[(b * k + j) * T + t]!;
        assert.ok(Math.abs(lp - dist[(b * T + t) * V + token]!) < 1e-6);
        sum += lp;
      }
      assert.ok(Math.abs(sum - out.logProbs[b * k + j]!) < 1e-4);
    }
  // Unmasked positions carry zeros; masked ones a normalised distribution with specials at 0.
  for (let p = 0; p < B * T; p++) {
    const row = dist.subarray(p * V, (p + 1) * V);
    if (inputs[p] !== MASK) assert.ok(row.every((x) => x === 0));
    else {
      assert.ok(Math.abs(row.reduce((s, x) => s + Math.exp(x), 0) - 1) < 1e-5);
      assert.equal(Math.exp(row[MASK]!), 0);
      assert.equal(Math.exp(row[0]!), 0);
    }
  }
});

test("the distribution at masked positions does not depend on the other samples (k=1 vs k=8)", async () => {
  const one = await sampleFillIns(model, inputs, { ...base, groupSize: 1, returnTokenLogProbs: true });
  const eight = await sampleFillIns(model, inputs, { ...base, groupSize: 8, returnTokenLogProbs: true });
  // The first sample of each group is drawn from the same stream either way.
  for (let b = 0; b < B; b++) {
    assert.deepEqual(eight.completions.subarray(b * 8 * T, b * 8 * T + T), one.completions.subarray(b * T, (b + 1) * T));
    assert.equal(eight.logProbs[b * 8], one.logProbs[b]);
    assert.deepEqual(eight.tokenLogProbs!.subarray(b * 8 * T, b * 8 * T + T), one.tokenLogProbs!.subarray(b * T, (b + 1) * T));
  }
  // Per-position distributions of one input alone equal those it gets inside the batch.
  const batchDist = await maskedLogProbs(model, inputs, base);
  const aloneDist = await maskedLogProbs(model, inputs.slice(T, 2 * T), { ...base, batch: 1 });
  const inBatch = batchDist.subarray(T * V, 2 * T * V);
  for (let i = 0; i < aloneDist.length; i++) assert.ok(Math.abs(aloneDist[i]! - inBatch[i]!) < 1e-5);
});

test("an input's samples do not depend on which other inputs are in the batch", async () => {
  const k = 4;
  const full = await sampleFillIns(model, inputs, { ...base, groupSize: k });
  const changed = Int32Array.from(inputs);
  changed.set([5, 5, 5, 5, 1, 1, 1, 1, 5, 5, 5, 5], 0); // replace input 0
  const other = await sampleFillIns(model, changed, { ...base, groupSize: k });
  assert.deepEqual(other.completions.subarray(k * T), full.completions.subarray(k * T));
  // With inputSeeds, input 2 alone gives what it gave at position 2 of the batch.
  const alone = await sampleFillIns(model, inputs.slice(2 * T), {
    ...base,
    batch: 1,
    groupSize: k,
    inputSeeds: [(await import("@grpomesh/rng")).mixSeeds(42, 2)],
  });
  assert.deepEqual(alone.completions, full.completions.subarray(2 * k * T));
  for (let j = 0; j < k; j++) assert.ok(Math.abs(alone.logProbs[j]! - full.logProbs[2 * k + j]!) < 1e-4);
});

test("top-p on probs [0.5, 0.3, 0.15, 0.05] with p=0.8 samples only the first two, ≈ 0.625/0.375", async () => {
  // Vocabulary [PAD], [MASK], then four tokens; one input of 64 masked positions, k = 50.
  const probs = [0.5, 0.3, 0.15, 0.05];
  const seqLen = 64;
  const logits = new Float32Array(seqLen * 6);
  for (let t = 0; t < seqLen; t++) {
    logits.set([5, 5, ...probs.map(Math.log)], t * 6); // specials get high logits: they must still never be drawn
  }
  const ids = new Int32Array(seqLen).fill(MASK);
  const k = 50;
  const out = await sampleFillIns(logits, ids, {
    batch: 1,
    seqLen,
    maskTokenId: MASK,
    groupSize: k,
    temperature: 1,
    topP: 0.8,
    seed: 7,
    bannedTokenIds: [0, 1],
  });
  const counts = [0, 0, 0, 0, 0, 0];
  for (const token of out.completions) counts[token]!++;
  const n = seqLen * k;
  assert.equal(counts[0]! + counts[1]! + counts[4]! + counts[5]!, 0, `counts ${counts}`);
  assert.ok(Math.abs(counts[2]! / n - 0.625) < 0.03, `freq of first ${counts[2]! / n}`);
  assert.ok(Math.abs(counts[3]! / n - 0.375) < 0.03, `freq of second ${counts[3]! / n}`);
  // Log-probs are those before truncation: log 0.5 or log 0.3 per position.
  const perSample = out.completions.subarray(0, seqLen);
  const want = [...perSample].reduce((s, tok) => s + Math.log(probs[tok - 2]!), 0);
  assert.ok(Math.abs(out.logProbs[0]! - want) < 1e-3);
  // topP = 1 reaches the tail too.
  const all = await sampleFillIns(logits, ids, { batch: 1, seqLen, maskTokenId: MASK, groupSize: k, temperature: 1, topP: 1, seed: 7, bannedTokenIds: [0, 1] });
  assert.ok(all.completions.some((tok) => tok === 5));
});

test("logSoftmaxWithTemperature matches maskedLogProbs and bans specials", async () => {
  const logits = tf.tidy(() => model.forwardIds(inputs, B, T));
  const lp = logSoftmaxWithTemperature(logits, 0.8, specialTokenIds(config));
  const data = lp.dataSync();
  const dist = await maskedLogProbs(logits, inputs, { ...base, bannedTokenIds: specialTokenIds(config) });
  for (let p = 0; p < B * T; p++) {
    if (inputs[p] !== MASK) continue;
    for (let v = 2; v < V; v++) assert.ok(Math.abs(data[p * V + v]! - dist[p * V + v]!) < 1e-5);
    assert.ok(data[p * V + MASK]! < BANNED_LOGIT / 2);
  }
  assert.throws(() => logSoftmaxWithTemperature(logits, 0), /temperature must be/);
  tf.dispose([logits, lp]);
});

test("refuses bad options with clear errors", async () => {
  await assert.rejects(sampleFillIns(model, inputs, { ...base, groupSize: 0 }), /groupSize/);
  await assert.rejects(sampleFillIns(model, inputs, { ...base, groupSize: 2, topP: 0 }), /topP/);
  await assert.rejects(sampleFillIns(model, inputs.slice(1), { ...base, groupSize: 2 }), /batch 3 × seqLen 12/);
});

test("no tensor leaks over 200 sampling calls", async () => {
  await sampleFillIns(model, inputs, { ...base, groupSize: 2 });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 200; i++) {
    await sampleFillIns(model, inputs, { ...base, groupSize: 2, seed: i });
    if (i % 50 === 0) await maskedLogProbs(model, inputs, base);
  }
  assert.equal(tf.memory().numTensors, before);
});
