import { test } from "node:test";
import assert from "node:assert/strict";
import type { LossValues } from "./index.ts";
import { grpoLossArrays, groupRelativeAdvantages, sliceLossInputs, stepMetrics, sumLossValues } from "./index.ts";
import { ln, ppoCase, tinyBatch } from "./test/fixtures.ts";

const LN2 = 0.6931471805599453;

function nearValues(actual: LossValues, expected: Partial<LossValues>, tol = 1e-6): void {
  for (const [key, want] of Object.entries(expected) as [keyof LossValues, number][]) {
    if (Number.isNaN(want)) assert.ok(Number.isNaN(actual[key]), `${key}: ${actual[key]} vs NaN`);
    else assert.ok(Math.abs(actual[key] - want) <= tol, `${key}: ${actual[key]} vs ${want}`);
  }
}

test("seed loss (sum, exact KL) by hand", () => {
  const b = tinyBatch();
  // log π: member 0 = 2 ln .5 = −1.3862944, member 1 = ln .25 + ln .3 = −2.5902672; A = [1, −1]
  // pg = −mean(log π · A) = −(−1.3862944 + 2.5902672)/2 = −ln(.5/.3)... = −0.6019864
  // exact KL = .25 ln2 = 0.1732868 for both members; penalty = .1 · 0.1732868
  const lp0 = 2 * ln(0.5),
    lp1 = ln(0.25) + ln(0.3);
  const pg = -(lp0 * 1 + lp1 * -1) / 2;
  assert.ok(Math.abs(pg - -0.6019864) < 1e-6);
  const v = grpoLossArrays(b.logp, { ...b, advantages: [1, -1], refLogProbs: b.refLogp }, { klBeta: 0.1 });
  nearValues(v, { pgLoss: pg, meanKl: 0.25 * LN2, klPenalty: 0.025 * LN2, loss: pg + 0.025 * LN2, meanLogProb: (lp0 + lp1) / 2, clipFrac: 0 });
});

test('"mean" token reduction averages log π and the KL over |M| = 2; k1 and k3 enter the loss', () => {
  const b = tinyBatch();
  const lp0 = ln(0.5),
    lp1 = (ln(0.25) + ln(0.3)) / 2;
  const mean = grpoLossArrays(b.logp, { ...b, advantages: [1, -1], refLogProbs: b.refLogp }, { klBeta: 0.1, tokenReduction: "mean" });
  nearValues(mean, { pgLoss: -(lp0 - lp1) / 2, meanKl: (0.25 * LN2) / 2, meanLogProb: (lp0 + lp1) / 2 });
  // k1 per member [ln2, −ln2] → mean 0; k3 [.5 + ln2 − 1, 1 − ln2] → mean .25
  nearValues(grpoLossArrays(b.logp, { ...b, advantages: [1, -1], refLogProbs: b.refLogp }, { klEstimator: "k1" }), { meanKl: 0 });
  const k3 = grpoLossArrays(b.logp, { ...b, advantages: [1, -1], refLogProbs: b.refLogp }, { klEstimator: "k3", klBeta: 2 });
  nearValues(k3, { meanKl: 0.25, klPenalty: 0.5 });
});

test("PPO clipping: ratio above/below the clip with positive/negative advantage, by hand", () => {
  // B = 1, k = 4, T = 1, V = 2, p = [.5, .5]: log π = ln .5 for every member.
  // old = ln .5 − ln ρ with ρ = [1.5, 1.5, .5, .5]; A = [1, −1, 1, −1]; ε = .2
  //   m0: ρA = 1.5, clip(ρ)A = 1.2 → min 1.2 (clipped)      term = −(1.2 − 1 + 1·ln(1/3))  = 0.8986123
  //   m1: ρA = −1.5, clip(ρ)A = −1.2 → min −1.5 (unclipped) term = −(−1.5 + 1 − 1·ln(1/3)) = −0.5986123
  //   m2: ρA = .5, clip(ρ)A = .8 → min .5 (unclipped)       term = −(.5 − 1 + 1·0)         = 0.5
  //   m3: ρA = −.5, clip(ρ)A = −.8 → min −.8 (clipped)      term = −(−.8 + 1 − 1·0)        = −0.2
  // pg = (0.8986123 − 0.5986123 + .5 − .2)/4 = 0.15; clip_frac = 2/4
  const v = grpoLossArrays(new Float32Array([ln(0.5), ln(0.5)]), ppoCase(), { klBeta: 0, clipEps: 0.2 });
  nearValues(v, { pgLoss: 0.15, loss: 0.15, clipFrac: 0.5, klPenalty: 0, meanKl: Number.NaN });
});

test("ratio 1 (first PPO epoch) gives the unclipped value", () => {
  const b = tinyBatch();
  const inputs = { ...b, advantages: [0.7, -0.7], refLogProbs: b.refLogp };
  const plain = grpoLossArrays(b.logp, inputs);
  const ppo = grpoLossArrays(b.logp, { ...inputs, oldLogProbs: [2 * ln(0.5), ln(0.25) + ln(0.3)] });
  nearValues(ppo, { ...plain });
});

test("micro-batches with sampleCount = the whole batch sum to the full-batch values", () => {
  // two inputs; each micro-batch is one input, divided by the full B·k = 4
  const b = tinyBatch();
  const full = {
    ...b,
    batchSize: 2,
    completions: new Int32Array([0, 2, 0, 1, 1, 0, 1, 0, 0, 2, 2, 0]),
    mask: new Uint8Array([1, 1, 0, 1, 0, 1]),
    logp: new Float32Array([...b.logp, ...b.logp]),
    refLogProbs: new Float32Array([...b.refLogp, ...b.refLogp.map((x) => (Number.isNaN(x) ? ln(1 / 3) : x))]),
    advantages: [1, -1, 0.5, -0.5],
  };
  const whole = grpoLossArrays(full.logp, full);
  const part = (i: number) => grpoLossArrays(full.logp.subarray(i * 9, i * 9 + 9), sliceLossInputs(full, i, i + 1), { sampleCount: 4 });
  nearValues(sumLossValues([part(0), part(1)]), { ...whole }, 1e-9);
  // the slice is a view of the typed arrays (no copy) and a copy of plain ones
  const second = sliceLossInputs(full, 1, 2);
  assert.equal(second.completions.buffer, full.completions.buffer);
  assert.deepEqual([...second.completions], [1, 0, 0, 2, 2, 0]);
  assert.deepEqual({ B: second.batchSize, mask: [...second.mask], adv: Array.from(second.advantages) }, { B: 1, mask: [1, 0, 1], adv: [0.5, -0.5] });
});

test("loss inputs are checked: β > 0 needs reference log-probs; bad advantages and options refused", () => {
  const b = tinyBatch();
  assert.throws(() => grpoLossArrays(b.logp, { ...b, advantages: [1, -1] }), /klBeta is 0.1 but no refLogProbs were given/);
  nearValues(grpoLossArrays(b.logp, { ...b, advantages: [1, -1] }, { klBeta: 0 }), { klPenalty: 0, meanKl: Number.NaN });
  assert.throws(() => grpoLossArrays(b.logp, { ...b, advantages: [1, Number.NaN], refLogProbs: b.refLogp }), /advantages\[1\] \(input 0, member 1\) is NaN/);
  assert.throws(
    () => grpoLossArrays(b.logp, { ...b, advantages: [1], refLogProbs: b.refLogp }),
    /advantages has 1 values; expected one per completion, B·k = 2/,
  );
  assert.throws(() => grpoLossArrays(b.logp, { ...b, advantages: [1, -1], refLogProbs: b.refLogp }, { clipEps: 1.5 }), /clipEps is 1.5/);
  assert.throws(
    () => grpoLossArrays(b.logp, { ...b, advantages: [1, -1], refLogProbs: b.refLogp }, { tokenReduction: "max" as never }),
    /expected one of sum, mean/,
  );
  assert.throws(() => grpoLossArrays(b.logp, { ...b, advantages: [1, -1], refLogProbs: b.refLogp }, { klBeta: -1 }), /klBeta is -1/);
});

test("stepMetrics carries the seed's names plus frac_zero_std_groups", () => {
  const rewards = [1, 3, 2, 2];
  const adv = groupRelativeAdvantages(rewards, { groupSize: 2, norm: "none" }); // [−1, 1, 0, 0]
  const loss: LossValues = { loss: 0.5, pgLoss: 0.4, klPenalty: 0.1, meanKl: 1, meanLogProb: -3, clipFrac: 0 };
  // mean reward 2, population std √((1+1+0+0)/4) = √.5
  assert.deepEqual(stepMetrics(rewards, adv, loss), {
    loss: 0.5,
    pg_loss: 0.4,
    kl_penalty: 0.1,
    mean_reward: 2,
    std_reward: Math.sqrt(0.5),
    mean_advantage: 0,
    mean_kl: 1,
    mean_log_prob: -3,
    frac_zero_std_groups: 0.5,
    clip_frac: 0,
  });
  assert.throws(() => stepMetrics([1, 2], adv, loss), /2 rewards but 4 advantages/);
});
