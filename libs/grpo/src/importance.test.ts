import { test } from "node:test";
import assert from "node:assert/strict";
import { grpoLossArrays, importanceWeights, weightAdvantages } from "./index.ts";
import { ln, ppoCase } from "./test/fixtures.ts";

const near = (a: number, b: number, tol = 1e-9, what = "") => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test("importance weights by hand: π_prox/π_behaviour, capped, with their statistics", () => {
  // raw weights .5/.25 = 2, .2/.4 = .5, .3/.1 = 3; the cap 2 cuts the last
  const prox = [ln(0.5), ln(0.2), ln(0.3)];
  const behaviour = [ln(0.25), ln(0.4), ln(0.1)];
  const w = importanceWeights(prox, behaviour, 2);
  [2, 0.5, 2].forEach((want, s) => near(w.weights[s]!, want, 1e-12, `w[${s}]`));
  near(w.mean, 1.5);
  near(w.min, 0.5);
  near(w.max, 2);
  near(w.cappedFrac, 1 / 3);
  const uncapped = importanceWeights(prox, behaviour, 0);
  near(uncapped.weights[2]!, 3, 1e-12);
  near(uncapped.cappedFrac, 0);
  // the same policy: every weight exactly 1
  const same = importanceWeights(prox, prox, 2);
  assert.deepEqual([...same.weights], [1, 1, 1]);
  assert.equal(same.cappedFrac, 0);
});

test("importance weights refuse what they cannot weight", () => {
  assert.throws(() => importanceWeights([0], [0, 0], 2), /one proximal and one behaviour log-prob per completion; got 1 and 2/);
  assert.throws(() => importanceWeights([0], [0], 0.5), /cap is 0.5; expected 0 \(no cap\) or a number ≥ 1/);
  assert.throws(() => importanceWeights([Number.NaN], [0], 2), /completion 0: log-probs must be finite/);
  assert.throws(() => weightAdvantages([1, 2], [1]), /2 advantages but 1 importance weights/);
});

// Decoupled PPO with capped behaviour weights, worked by hand on ppoCase (B = 1, k = 4, T = 1,
// V = 2, π_θ = .5 for both tokens): ρ = π_θ/π_prox = [1.5, 1.5, .5, .5], A = [1, −1, 1, −1],
// ε = .2, and behaviour weights w = [2, .5, 1, 3 → cap 2].
//   member 0: min(1.5·1, 1.2·1) = 1.2 (clipped)       · 2  =  2.4
//   member 1: min(−1.5, −1.2)   = −1.5 (unclipped)    · .5 = −.75
//   member 2: min(.5, .8)       = .5 (unclipped)      · 1  =  .5
//   member 3: min(−.5, −.8)     = −.8 (clipped)       · 2  = −1.6
//   L = −(2.4 − .75 + .5 − 1.6)/4 = −.1375 (+ terms constant in θ)
// ∂L/∂log π_θ(token 0) = −(.5 · 1.5 · −1)/4 = .1875 (member 1 only: member 0 is clipped);
// ∂L/∂log π_θ(token 1) = −(1 · .5 · 1)/4 = −.125 (member 2 only).
test("decoupled PPO = the GRPO loss with advantages w·A and π_prox as the PPO old policy: value and gradient by hand", () => {
  const c = ppoCase();
  const prox = c.oldLogProbs;
  const wantW = [2, 0.5, 1, 2];
  const behaviour = prox.map((lp, s) => lp - ln(s === 3 ? 3 : wantW[s]!));
  const w = importanceWeights(prox, behaviour, 2);
  wantW.forEach((want, s) => near(w.weights[s]!, want, 1e-12, `w[${s}]`));
  const inputs = { ...c, advantages: weightAdvantages(c.advantages, w.weights), oldLogProbs: prox };
  const loss = (logp: number[]) => grpoLossArrays(new Float32Array(logp), inputs, { klBeta: 0, clipEps: 0.2 }).pgLoss;
  const logp = [ln(0.5), ln(0.5)];
  // the loss's constant part: −mean(−wA + wA·log π_prox)
  const constant = -inputs.advantages.reduce((s, wa, j) => s - wa + wa * prox[j]!, 0) / 4;
  near(loss(logp) - constant, -0.1375, 1e-6, "pg loss");
  const h = 1e-3;
  const grad = (v: number) => {
    const up = [...logp],
      down = [...logp];
    up[v]! += h;
    down[v]! -= h;
    return (loss(up) - loss(down)) / (2 * h);
  };
  near(grad(0), 0.1875, 1e-3, "∂L/∂log π(token 0)");
  near(grad(1), -0.125, 1e-3, "∂L/∂log π(token 1)");
});

test("in the first epoch (θ = prox) the corrected gradient is −w·A/N per completion: truncated importance sampling", () => {
  const c = ppoCase();
  const logp = [ln(0.5), ln(0.5)];
  const w = [2, 0.5, 1, 2];
  // no PPO ratio (ρ = 1): the loss is −mean(log π · w·A)
  const inputs = { ...c, advantages: weightAdvantages(c.advantages, w), oldLogProbs: undefined };
  const loss = (lp: number[]) => grpoLossArrays(new Float32Array(lp), inputs, { klBeta: 0 }).pgLoss;
  const h = 1e-3;
  const up = [logp[0]! + h, logp[1]!],
    down = [logp[0]! - h, logp[1]!];
  // token 0 is taken by members 0 (w·A = 2) and 1 (w·A = −.5): ∂L/∂log π = −(2 − .5)/4 = −.375
  near((loss(up) - loss(down)) / (2 * h), -0.375, 1e-3, "∂L/∂log π(token 0)");
});
