import { test } from "node:test";
import assert from "node:assert/strict";
import { exactKl, k1Kl, k3Kl, klPerSample, sequenceLogProbs } from "./index.ts";
import { ln, tinyBatch } from "./test/fixtures.ts";

const LN2 = 0.6931471805599453;

function near(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
}

test("exact KL on V = 3 by hand; ≥ 0; 0 when p = p_ref; shared by the group", () => {
  const b = tinyBatch();
  // t0: .5·ln(.5/.25) + .25·ln(.25/.5) + .25·ln(1) = .5 ln2 − .25 ln2 = .25 ln2 = 0.1732868
  // t1: identical distributions → 0; t2: not masked (its NaN reference is never read)
  near(exactKl(b, b.logp, b.refLogp), [0.25 * LN2]);
  near(exactKl(b, b.logp, b.refLogp, "mean"), [(0.25 * LN2) / 2]); // |M| = 2
  near(exactKl(b, b.logp, b.logp), [0], 1e-7);
  near(klPerSample("exact", b, b.logp, b.refLogp), [0.25 * LN2, 0.25 * LN2]);
  assert.ok(
    exactKl(
      b,
      b.refLogp.map((x, i) => (Number.isNaN(x) ? b.logp[i]! : x)),
      b.logp,
    )[0]! > 0,
  );
});

test("k1 on V = 3 by hand (can be negative)", () => {
  const b = tinyBatch();
  // member 0 takes [0, 2]: (ln .5 − ln .25) + (ln .5 − ln .5) = ln2
  // member 1 takes [1, 1]: (ln .25 − ln .5) + (ln .3 − ln .3) = −ln2
  near(k1Kl(b, b.logp, b.refLogp), [LN2, -LN2]);
  near(k1Kl(b, b.logp, b.refLogp, "mean"), [LN2 / 2, -LN2 / 2]);
  near(klPerSample("k1", b, b.logp, b.refLogp), [LN2, -LN2]);
});

test("k3 on V = 3 by hand; ≥ 0", () => {
  const b = tinyBatch();
  // member 0, t0: r = .25/.5 = .5 → .5 − ln .5 − 1 = .5 + ln2 − 1 = 0.1931472; t1: r = 1 → 0
  // member 1, t0: r = .5/.25 = 2 → 2 − ln2 − 1 = 0.3068528; t1: r = 1 → 0
  near(k3Kl(b, b.logp, b.refLogp), [0.5 + LN2 - 1, 1 - LN2]);
  near(k3Kl(b, b.logp, b.refLogp, "mean"), [(0.5 + LN2 - 1) / 2, (1 - LN2) / 2]);
  near(k3Kl(b, b.logp, b.logp), [0, 0], 1e-7);
  for (const v of klPerSample("k3", b, b.logp, b.refLogp)) assert.ok(v >= 0);
});

test("sequence log-probs sum (or average) the sampled tokens over the mask", () => {
  const b = tinyBatch();
  // member 0: ln .5 + ln .5 = −1.3862944; member 1: ln .25 + ln .3 = −2.5902672
  near(sequenceLogProbs(b, b.logp), [2 * ln(0.5), ln(0.25) + ln(0.3)]);
  near(sequenceLogProbs(b, b.logp, "mean"), [ln(0.5), (ln(0.25) + ln(0.3)) / 2]);
});

test("KL inputs with wrong shapes, bad ids or non-finite masked values are refused", () => {
  const b = tinyBatch();
  assert.throws(() => exactKl(b, b.logp.subarray(1), b.refLogp), /logp has 8 values; expected B·T·V = 1·3·3 = 9/);
  assert.throws(
    () => k1Kl({ ...b, completions: new Int32Array([3, 2, 0, 1, 1, 0]) }, b.logp, b.refLogp),
    /token 3 at input 0, member 0, position 0 is outside the vocabulary \[0, 3\)/,
  );
  assert.throws(
    () => k3Kl({ ...b, mask: new Uint8Array([1, 1, 1]), completions: new Int32Array([0, 2, 0, 1, 1, 0]) }, b.logp, b.refLogp),
    /refLogp\[input 0, position 2, token 0\] is NaN/,
  );
  assert.throws(() => k1Kl({ ...b, mask: new Uint8Array([1, 1]) }, b.logp, b.refLogp), /mask must be a Uint8Array of B·T = 3 flags/);
  assert.throws(() => klPerSample("k2" as never, b, b.logp, b.refLogp), /expected one of exact, k1, k3/);
});
