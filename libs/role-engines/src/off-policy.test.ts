// A pipelined Update (completions sampled by an older policy version): the engine weights each
// completion by min(π_prox/π_behaviour, cap) — checked against weights computed independently from
// the policy's own log-probs — and refuses what it cannot correct, without changing state.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "@grpomesh/model";
import { GrpcCode } from "./errors.ts";
import { PolicyEngine } from "./policy.ts";
import { ReferenceEngine } from "./reference.ts";
import { buildUpdate, caught, gradientGap, tinyModel } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

const reference = new ReferenceEngine(tinyModel(1));
after(() => reference.dispose());
const fresh = () => new PolicyEngine(tinyModel(1));

test("a stale Update: importance weights from the policy's own log-probs, capped; gradients = the synchronous gradients of w·A", async () => {
  const policy = fresh();
  const params = { klBeta: 0.1, learningRate: 5e-2, importanceWeightCap: 1.2 };
  // version 0 samples step 2's completions, then step 1 is applied: step 2 is one version stale
  const stale = await buildUpdate(policy, reference, 2, { batch: 4, groupSize: 4, params });
  await policy.update(await buildUpdate(policy, reference, 1, { batch: 4, groupSize: 4, params }));
  const payload = { ...stale, behaviourVersion: 0 };

  const shape = { batch: payload.batch, seqLen: payload.seqLen, groupSize: payload.groupSize };
  const prox = await policy.completionLogProbs(payload.inputs, payload.completions, shape, payload.params.temperature);
  let capped = 0;
  const w = Array.from(prox, (lp, s) => {
    const raw = Math.exp(lp - payload.oldLogProbs[s]!);
    if (raw > 1.2) capped++;
    return Math.min(raw, 1.2);
  });
  assert.ok(
    w.some((x) => Math.abs(x - 1) > 1e-3),
    "one update moved the log-probs, so the weights are not all 1",
  );
  const weighted = { ...stale, advantages: Float32Array.from(stale.advantages, (a, s) => a * w[s]!), behaviourVersion: 1 };

  const corrected = await policy.gradients(payload);
  const byHand = await policy.gradients(weighted); // behaviour = the policy's version: no correction
  const gap = gradientGap(corrected.grads, byHand.grads);
  assert.ok(gap.worst <= 1e-5 * gap.scale + 1e-7, `gradients differ by ${gap.worst} at ${gap.where} (scale ${gap.scale})`);
  const uncorrected = await policy.gradients({ ...stale, behaviourVersion: 1 });
  assert.ok(gradientGap(corrected.grads, uncorrected.grads).worst > 1e-4 * gap.scale, "the correction changes the gradient");

  const r = await policy.update(payload);
  assert.equal(r.metrics.staleness, 1);
  const mean = w.reduce((s, x) => s + x, 0) / w.length;
  assert.ok(Math.abs(r.metrics.importanceWeightMean - mean) < 1e-5, `mean weight ${r.metrics.importanceWeightMean} vs ${mean}`);
  assert.ok(Math.abs(r.metrics.importanceWeightMax - Math.max(...w)) < 1e-5);
  assert.ok(Math.abs(r.metrics.importanceWeightMin - Math.min(...w)) < 1e-5);
  assert.equal(r.metrics.importanceWeightCappedFrac, capped / w.length);
  policy.dispose();
});

test("a synchronous Update reports staleness 0 and weights 1, with or without behaviour_version", async () => {
  const a = fresh(),
    b = fresh();
  const payload = await buildUpdate(a, reference, 1);
  const ra = await a.update(payload);
  const rb = await b.update({ ...payload, behaviourVersion: 0 });
  for (const r of [ra, rb]) {
    assert.deepEqual(
      [r.metrics.staleness, r.metrics.importanceWeightMean, r.metrics.importanceWeightMin, r.metrics.importanceWeightMax, r.metrics.importanceWeightCappedFrac],
      [0, 1, 1, 1, 0],
    );
  }
  assert.equal((await a.state()).weightsDigest, (await b.state()).weightsDigest, "behaviour_version = the policy's version changes nothing");
  a.dispose();
  b.dispose();
});

test("behaviour versions it cannot correct are refused with their status, state unchanged", async () => {
  const policy = fresh();
  await policy.update(await buildUpdate(policy, reference, 1));
  const before = await policy.state();
  const payload = await buildUpdate(policy, reference, 2);
  const cases: Array<[string, object, number, RegExp]> = [
    ["from the future", { behaviourVersion: 5 }, GrpcCode.FAILED_PRECONDITION, /behaviour_version 5 is newer than the policy's version 1/],
    ["negative", { behaviourVersion: -1 }, GrpcCode.INVALID_ARGUMENT, /behaviour_version is -1; expected the policy version that sampled/],
    ["not an integer", { behaviourVersion: 0.5 }, GrpcCode.INVALID_ARGUMENT, /behaviour_version is 0\.5/],
    [
      "stale without old_log_probs",
      { behaviourVersion: 0, oldLogProbs: new Float32Array(0) },
      GrpcCode.INVALID_ARGUMENT,
      /sampled by policy version 0, 1 behind .* old_log_probs are missing/,
    ],
  ];
  for (const [name, change, code, message] of cases) {
    const err = await caught(() => policy.update({ ...payload, ...change }));
    assert.equal(err.grpcCode, code, `${name}: ${err.message}`);
    assert.match(err.message, message, name);
    assert.deepEqual(await policy.state(), before, `${name}: state unchanged`);
  }
  // a cap below 1 is refused by the setting's own rule
  const err = await caught(() => policy.update({ ...payload, params: { ...payload.params, importanceWeightCap: 0.5 } }));
  assert.equal(err.grpcCode, GrpcCode.INVALID_ARGUMENT, err.message);
  assert.match(err.message, /importance_weight_cap/);
  assert.equal((await policy.update({ ...payload, behaviourVersion: 0 })).metrics.staleness, 1, "the next good one is applied");
  policy.dispose();
});
