import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { cosineLearningRate, initBackend, parameterCount } from "@grpomesh/model";
import type { UpdatePayload } from "@grpomesh/loop";
import { PolicyEngine } from "./policy.ts";
import { ReferenceEngine } from "./reference.ts";
import { buildUpdate, caught, maskedInputs, MASK, PAD, tempDir, tinyConfig, tinyModel, trainParams, TINY_VOCAB } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

const V = TINY_VOCAB.length;
const reference = new ReferenceEngine(tinyModel(1));
const dirs: Array<{ remove(): void }> = [];
after(() => {
  reference.dispose();
  dirs.forEach((d) => d.remove());
});

/** A fresh policy with the reference's initial weights (seed 1), as GRPO starts. */
function freshPolicy(options: ConstructorParameters<typeof PolicyEngine>[1] = {}): PolicyEngine {
  return new PolicyEngine(tinyModel(1), options);
}

test("sample: k completions per input from one forward, fill-ins only at masks, deterministic in the seed", async () => {
  const policy = freshPolicy();
  const B = 3,
    T = 16,
    k = 4;
  const inputs = maskedInputs(B, T, 7);
  const params = { temperature: 0.8, topP: 0.95, groupSize: k, seed: "12345" };
  const a = await policy.sample(inputs, { batch: B, seqLen: T }, params);
  assert.equal(a.completions.length, B * k * T);
  assert.equal(a.logProbs.length, B * k);
  assert.equal(a.policyVersion, 0);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < k; j++) {
      for (let t = 0; t < T; t++) {
        const x = inputs[b * T + t]!,
          c = a.completions[(b * k + j) * T + t]!;
        if (x === MASK) assert.ok(c !== MASK && c !== PAD && c >= 0 && c < V, `masked position filled with ${c}`);
        else assert.equal(c, x);
      }
    }
  }
  // log-probs are those of the τ distribution before top-p: recompute them from the weights
  const recomputed = await policy.completionLogProbs(inputs, a.completions, { batch: B, seqLen: T, groupSize: k }, 0.8);
  for (let s = 0; s < B * k; s++) {
    assert.ok(a.logProbs[s]! < 0);
    assert.ok(Math.abs(a.logProbs[s]! - recomputed[s]!) < 1e-4, `sample ${s}: ${a.logProbs[s]} vs ${recomputed[s]}`);
  }
  const again = await policy.sample(inputs, { batch: B, seqLen: T }, params);
  assert.deepEqual(again.completions, a.completions);
  assert.deepEqual(again.logProbs, a.logProbs);
  const other = await policy.sample(inputs, { batch: B, seqLen: T }, { ...params, seed: "54321" });
  assert.notDeepEqual(other.completions, a.completions);
  const before = (await policy.state()).weightsDigest;
  assert.equal((await policy.state()).policyVersion, 0);
  assert.equal(before, reference.weightsDigest, "sampling must not touch the weights");
  policy.dispose();
});

test("update: changes the weights, bumps the version, reports the metrics; a duplicate step replays without applying", async () => {
  const policy = freshPolicy();
  const start = await policy.state();
  const payload = await buildUpdate(policy, reference, 1, { params: { warmupSteps: 5, maxSteps: 50 } });
  const first = await policy.update(payload);
  assert.equal(first.replayed, false);
  assert.equal(first.step, 1);
  assert.equal(first.policyVersion, 1);
  const m = first.metrics;
  for (const key of ["loss", "pgLoss", "klPenalty", "meanKl", "meanLogProb", "gradNorm", "updateMs"] as const)
    assert.ok(Number.isFinite(m[key]), `${key} = ${m[key]}`);
  assert.ok(m.meanLogProb < 0 && m.gradNorm > 0);
  assert.ok(Math.abs(m.meanKl) < 1e-4, `the policy starts at the reference: KL ${m.meanKl}`);
  assert.equal(m.learningRate, cosineLearningRate(0, { lr: 1e-2, warmupSteps: 5, maxSteps: 50, minLrRatio: 0.1 }));
  assert.equal(m.clipFrac, 0);
  let masked = 0;
  for (const x of payload.inputs) masked += x === MASK ? 1 : 0;
  assert.equal(m.tokens, masked * payload.groupSize);
  const after1 = await policy.state();
  assert.notEqual(after1.weightsDigest, start.weightsDigest);
  assert.deepEqual({ v: after1.policyVersion, s: after1.lastStep }, { v: 1, s: 1 });

  const again = await policy.update(payload);
  assert.equal(again.replayed, true);
  assert.deepEqual(again.metrics, first.metrics);
  assert.equal(again.policyVersion, 1);
  assert.deepEqual(await policy.state(), after1, "a replay changes nothing");

  // a retry that arrives while the first copy is still running waits and replays
  const p2 = await buildUpdate(policy, reference, 2);
  const [x, y] = await Promise.all([policy.update(p2), policy.update(p2)]);
  assert.deepEqual([x.replayed, y.replayed], [false, true]);
  assert.deepEqual(y.metrics, x.metrics);
  assert.equal((await policy.state()).policyVersion, 2);
  policy.dispose();
});

test("update refuses gaps, steps older than the record and changed retries, without changing state", async () => {
  const policy = freshPolicy({ replayWindow: 1 });
  await policy.update(await buildUpdate(policy, reference, 1));
  const p2 = await buildUpdate(policy, reference, 2);
  await policy.update(p2);
  const state = await policy.state();

  const gap = await caught(async () => policy.update({ ...(await buildUpdate(policy, reference, 4)) }));
  assert.equal(gap.grpcCode, 9);
  assert.match(gap.message, /policy has applied steps up to 2; Update for step 4 would skip step 3/);

  const old = await caught(() => policy.update({ ...p2, step: 1 }));
  assert.equal(old.grpcCode, 9);
  assert.match(old.message, /step 1 is older than the recorded results \(steps 2–2\)/);

  const changed = await caught(() => policy.update({ ...p2, advantages: p2.advantages.map((a) => -a) }));
  assert.equal(changed.grpcCode, 9);
  assert.match(changed.message, /step 2 was already applied with a different request/);

  const zero = await caught(() => policy.update({ ...p2, step: 0 }));
  assert.equal(zero.grpcCode, 3);
  assert.deepEqual(await policy.state(), state);
  policy.dispose();
});

test("every bad Update and Sample is refused with its status code, state unchanged, and the next good one succeeds", async () => {
  const policy = freshPolicy({ limits: { maxBatch: 8, maxCompletions: 40, maxPpoEpochs: 4 } });
  const good = await buildUpdate(policy, reference, 1);
  const before = await policy.state();
  const B = good.batch,
    T = good.seqLen,
    k = good.groupSize;
  const firstMasked = good.inputs.indexOf(MASK);
  const firstUnmasked = good.inputs.findIndex((x) => x !== MASK);
  const row = (i: number) => Math.floor(i / T) * k * T + (i % T); // member 0 of the input holding position i
  const edit = <A extends Int32Array | Float32Array>(a: A, i: number, v: number): A => {
    const c = a.slice() as A;
    c[i] = v;
    return c;
  };
  const cases: Array<[string, Partial<UpdatePayload>, number, RegExp]> = [
    ["input id out of range", { inputs: edit(good.inputs, 0, V) }, 3, /inputs\[0\] is 10; token ids must be in \[0, 10\)/],
    ["negative input id", { inputs: edit(good.inputs, 1, -1) }, 3, /inputs\[1\] is -1/],
    ["inputs too short", { inputs: good.inputs.subarray(1) }, 3, /inputs holds 63 ids; expected \[B, T\] = \[4, 16\] = 64/],
    ["inputs not int32", { inputs: Float32Array.from(good.inputs) as unknown as Int32Array }, 3, /inputs must be an Int32Array/],
    [
      "completion differs at an unmasked position",
      { completions: edit(good.completions, row(firstUnmasked), (good.inputs[firstUnmasked]! + 1) % V || 2) },
      3,
      /must equal their inputs at unmasked positions/,
    ],
    ["completion holds [MASK]", { completions: edit(good.completions, row(firstMasked), MASK) }, 3, /is the \[MASK\] token/],
    ["completion holds [PAD]", { completions: edit(good.completions, row(firstMasked), PAD) }, 3, /is the \[PAD\] token/],
    ["completion out of range", { completions: edit(good.completions, row(firstMasked), 99) }, 3, /a filled-in token must be an id in \[0, 10\)/],
    ["completions of another group size", { groupSize: k + 1 }, 3, /completions hold 192 ids; expected \[B, k, T\] = \[4, 4, 16\]/],
    ["NaN advantage", { advantages: edit(good.advantages, 2, NaN) }, 3, /advantages\[2\] \(input 0, member 2\) is NaN/],
    ["infinite advantage", { advantages: edit(good.advantages, 0, Infinity) }, 3, /advantages\[0\] .* is Infinity/],
    [
      "ref log-probs of another vocabulary",
      { refLogProbs: good.refLogProbs.subarray(0, B * T * (V - 1)) },
      3,
      /ref_log_probs hold 576 values; expected \[B, T, V\]/,
    ],
    [
      "NaN ref log-prob at a mask",
      { refLogProbs: edit(good.refLogProbs, firstMasked * V + 3, NaN) },
      3,
      /ref_log_probs\[input 0, position \d+, token 3\] is NaN/,
    ],
    ["positive ref log-prob at a mask", { refLogProbs: edit(good.refLogProbs, firstMasked * V + 3, 0.5) }, 3, /expected a finite log-probability ≤ 0/],
    ["ref missing with kl_beta > 0", { refLogProbs: new Float32Array(0) }, 3, /ref_log_probs are missing but kl_beta is 0.1/],
    [
      "old log-probs missing with ppo_epochs 2",
      { oldLogProbs: new Float32Array(0), params: trainParams({ ppoEpochs: 2 }) },
      3,
      /old_log_probs are missing but ppo_epochs is 2/,
    ],
    ["NaN old log-prob", { oldLogProbs: edit(good.oldLogProbs, 0, NaN) }, 3, /old_log_probs\[0\]/],
    [
      "zero temperature",
      { params: trainParams({ temperature: 0 }) },
      3,
      /invalid train params: temperature is 0 \(TrainParams.temperature\); expected a number > 0$/,
    ],
    [
      "bad params, all named",
      { params: trainParams({ learningRate: -1, beta2: 1, clipEps: 0, klEstimator: "k2" as never, microBatchSize: 1.5 }) },
      3,
      /learning_rate is -1 .*beta2 is 1 .*micro_batch_size is 1.5 .*expected an integer ≥ 0.*kl_estimator is "k2" .*expected one of exact, k1, k3.*clip_eps is 0 /,
    ],
    ["sequence longer than seq_len", { seqLen: 17, inputs: new Int32Array(B * 17) }, 3, /inputs have 17 positions; this model's seq_len is 16/],
    ["batch above --max_batch", { batch: 9 }, 8, /request holds 9 inputs; this engine accepts at most 8/],
    ["too many completions", { groupSize: 11 }, 8, /4 × 11 = 44 completions; this engine accepts at most 40/],
    ["too many PPO epochs", { params: trainParams({ ppoEpochs: 5 }) }, 8, /ppo_epochs is 5; this engine runs at most 4/],
  ];
  for (const [name, change, code, message] of cases) {
    const err = await caught(() => policy.update({ ...good, ...change }));
    assert.equal(err.grpcCode, code, `${name}: got code ${err.grpcCode}: ${err.message}`);
    assert.match(err.message, message, name);
    assert.deepEqual(await policy.state(), before, `${name} changed the state`);
  }

  const shape = { batch: B, seqLen: T };
  const sampleParams = { temperature: 0.8, topP: 0.9, groupSize: 2, seed: "1" };
  const sampleCases: Array<[string, () => Promise<unknown>, number, RegExp]> = [
    ["top_p 0", () => policy.sample(good.inputs, shape, { ...sampleParams, topP: 0 }), 3, /top_p is 0; expected a number in \(0, 1\]/],
    ["negative temperature", () => policy.sample(good.inputs, shape, { ...sampleParams, temperature: -1 }), 3, /temperature is -1/],
    ["group size 0", () => policy.sample(good.inputs, shape, { ...sampleParams, groupSize: 0 }), 3, /group_size is 0/],
    ["seed not a number", () => policy.sample(good.inputs, shape, { ...sampleParams, seed: "x1" }), 3, /seed is "x1"/],
    [
      "shape not matching",
      () => policy.sample(good.inputs, { batch: 3, seqLen: T }, sampleParams),
      3,
      /inputs holds 64 ids; expected \[B, T\] = \[3, 16\] = 48/,
    ],
    ["id out of range", () => policy.sample(edit(good.inputs, 5, 42), shape, sampleParams), 3, /inputs\[5\] is 42/],
    ["too many completions", () => policy.sample(good.inputs, shape, { ...sampleParams, groupSize: 20 }), 8, /80 completions/],
  ];
  for (const [name, call, code, message] of sampleCases) {
    const err = await caught(call);
    assert.equal(err.grpcCode, code, `${name}: got code ${err.grpcCode}: ${err.message}`);
    assert.match(err.message, message, name);
  }
  assert.deepEqual(await policy.state(), before);
  const ok = await policy.update(good);
  assert.equal(ok.replayed, false);
  assert.equal(ok.policyVersion, 1);
  policy.dispose();
});

test("the sign is right: completions with positive advantage gain log-prob, negative ones lose it", async () => {
  const policy = freshPolicy();
  const payload = await buildUpdate(policy, reference, 1, { batch: 4, groupSize: 4, params: { klBeta: 0, learningRate: 3e-3, weightDecay: 0 } });
  const k = payload.groupSize;
  // +1 for members 0 and 1 of every group, −1 for the others (group-centred)
  payload.advantages = Float32Array.from({ length: payload.batch * k }, (_, s) => (s % k < 2 ? 1 : -1));
  const shape = { batch: payload.batch, seqLen: payload.seqLen, groupSize: k };
  const before = await policy.completionLogProbs(payload.inputs, payload.completions, shape, 0.8);
  await policy.update(payload);
  const after = await policy.completionLogProbs(payload.inputs, payload.completions, shape, 0.8);
  let up = 0,
    down = 0;
  for (let s = 0; s < before.length; s++) {
    const delta = after[s]! - before[s]!;
    if (payload.advantages[s]! > 0) up += delta;
    else down += delta;
  }
  assert.ok(up > 0, `positive-advantage completions changed by ${up} in total`);
  assert.ok(down < 0, `negative-advantage completions changed by ${down} in total`);
  policy.dispose();
});

test("micro-batching gives the whole batch's gradients (within 1e-5) and loss values", async () => {
  const policy = freshPolicy();
  const payload = await buildUpdate(policy, reference, 1, { batch: 5, groupSize: 3, params: { klEstimator: "k3", tokenReduction: "mean" } });
  await policy.update(payload); // move away from the reference so the KL term has a gradient too
  const next = await buildUpdate(policy, reference, 2, { batch: 5, groupSize: 3, params: { klEstimator: "exact" } });
  const whole = await policy.gradients(next);
  for (const micro of [1, 2, 3]) {
    const split = await policy.gradients({ ...next, params: { ...next.params, microBatchSize: micro } });
    let maxDiff = 0,
      maxAbs = 0;
    for (const [name, g] of whole.grads) {
      const h = split.grads.get(name)!;
      for (let i = 0; i < g.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(g[i]! - h[i]!));
        maxAbs = Math.max(maxAbs, Math.abs(g[i]!));
      }
    }
    assert.ok(maxAbs > 1e-3, "gradients are ~0: the comparison would be vacuous");
    assert.ok(maxDiff < 1e-5, `micro-batch ${micro}: max |Δgrad| = ${maxDiff}`);
    assert.ok(Math.abs(split.gradNorm - whole.gradNorm) < 1e-5 * whole.gradNorm);
    for (const key of ["loss", "pgLoss", "klPenalty", "meanKl", "meanLogProb"] as const) {
      assert.ok(
        Math.abs(split.values[key] - whole.values[key]) < 1e-5 * (1 + Math.abs(whole.values[key])),
        `${key}: ${split.values[key]} vs ${whole.values[key]}`,
      );
    }
  }
  assert.equal((await policy.state()).lastStep, 1, "gradients() applies nothing");
  policy.dispose();
});

test("PPO epochs: later epochs clip against the sampling-time log-probs", async () => {
  const one = freshPolicy();
  const two = freshPolicy();
  const params = { klBeta: 0, learningRate: 5e-2, gradClip: 0, ppoEpochs: 3, clipEps: 0.05 };
  const payload = await buildUpdate(two, reference, 1, { batch: 4, groupSize: 4, params });
  const r1 = await one.update({ ...payload, params: { ...payload.params, ppoEpochs: 1 } });
  const r3 = await two.update(payload);
  assert.equal(r1.metrics.clipFrac, 0);
  assert.ok(r3.metrics.clipFrac > 0, `large steps with clip_eps 0.05 should clip some samples; clip_frac ${r3.metrics.clipFrac}`);
  assert.notEqual((await one.state()).weightsDigest, (await two.state()).weightsDigest);
  assert.equal(r3.policyVersion, 1, "one Update is one version, however many epochs");
  one.dispose();
  two.dispose();
});

test("checkpoint round trip: a restored policy continues bit-identically and still replays recorded steps", async () => {
  const dir = tempDir();
  dirs.push(dir);
  const a = freshPolicy();
  const u1 = await buildUpdate(a, reference, 1, { params: { microBatchSize: 2 } });
  await a.update(u1);
  const u2 = await buildUpdate(a, reference, 2, { params: { microBatchSize: 2, klEstimator: "k1" } });
  const r2 = await a.update(u2);
  const saved = await a.saveCheckpoint(`${dir.path}/policy`);
  assert.deepEqual(saved.files, [".grpomesh-checkpoint", "config.json", "model.safetensors", "optimizer.safetensors", "policy-state.json"]);
  assert.deepEqual({ v: saved.policyVersion, s: saved.lastStep }, { v: 2, s: 2 });
  assert.equal(saved.weightsDigest, (await a.state()).weightsDigest);

  const b = await PolicyEngine.fromCheckpoint(`${dir.path}/policy`, { engine: "tfjs" }); // bit-identical within one engine
  assert.deepEqual(await b.state(), await a.state());
  const replay = await b.update(u2);
  assert.equal(replay.replayed, true);
  assert.deepEqual(replay.metrics, r2.metrics);

  const u3 = await buildUpdate(a, reference, 3, { params: { microBatchSize: 2 } });
  const [ra, rb] = [await a.update(u3), await b.update(u3)];
  assert.equal((await b.state()).weightsDigest, (await a.state()).weightsDigest, "same checkpoint + same update ⇒ same weights");
  assert.equal(rb.metrics.loss, ra.metrics.loss);
  assert.equal(rb.policyVersion, 3);

  // loadCheckpoint rewinds a running policy to the saved state, optimizer included
  await a.update(await buildUpdate(a, reference, 4));
  const loaded = await a.loadCheckpoint(`${dir.path}/policy`);
  assert.deepEqual(loaded, { policyVersion: 2, lastStep: 2, weightsDigest: saved.weightsDigest });
  await a.update(u3);
  assert.equal((await a.state()).weightsDigest, (await b.state()).weightsDigest);
  a.dispose();
  b.dispose();
});

test("loadCheckpoint refuses a missing folder and another architecture without changing state", async () => {
  const dir = tempDir();
  dirs.push(dir);
  tinyModel(3, { d_model: 16, n_head: 2 }).save(`${dir.path}/small`);
  const policy = freshPolicy();
  await policy.update(await buildUpdate(policy, reference, 1));
  const state = await policy.state();
  const missing = await caught(() => policy.loadCheckpoint(`${dir.path}/nope`));
  assert.equal(missing.grpcCode, 5);
  assert.match(missing.message, /checkpoint folder .*nope does not exist/);
  const other = await caught(() => policy.loadCheckpoint(`${dir.path}/small`));
  assert.equal(other.grpcCode, 9);
  assert.match(other.message, /does not fit this policy: d_model is 16 in the checkpoint .* but 32 in the running policy/);
  assert.deepEqual(await policy.state(), state);

  // a pretrained folder (no policy state) starts at version 0
  const fresh = await PolicyEngine.fromCheckpoint(`${dir.path}/small`, { engine: "tfjs" });
  assert.deepEqual({ v: (await fresh.state()).policyVersion, s: (await fresh.state()).lastStep }, { v: 0, s: 0 });
  assert.equal((await fresh.info()).parameterCount, parameterCount(fresh.config));
  assert.equal((await fresh.info()).backend, "tfjs wasm");
  fresh.dispose();
  policy.dispose();
});

test("no tensor leaks over repeated sample + update + gradients + save", async () => {
  const dir = tempDir();
  dirs.push(dir);
  const policy = freshPolicy();
  const params = { microBatchSize: 2, ppoEpochs: 2 };
  await policy.update(await buildUpdate(policy, reference, 1, { params }));
  const baseline = tf.memory().numTensors;
  for (let step = 2; step <= 5; step++) {
    const payload = await buildUpdate(policy, reference, step, { params });
    await policy.update(payload);
    await policy.update(payload); // replay
    await policy.gradients(payload);
    await caught(() => policy.update({ ...payload, step: step + 5 }));
    await caught(() => policy.update({ ...payload, step: step + 1, advantages: new Float32Array(1) }));
  }
  await policy.saveCheckpoint(`${dir.path}/p`);
  await policy.loadCheckpoint(`${dir.path}/p`);
  assert.equal(tf.memory().numTensors, baseline, "tensor count must stay flat");
  policy.dispose();
});

test("a NaN loss from diverged weights is refused before anything is applied", async () => {
  const policy = freshPolicy();
  const payload = await buildUpdate(policy, reference, 1, { params: { ppoEpochs: 2 } });
  const state = await policy.state();
  // Poison one weight: every log-prob becomes NaN.
  const saved = await policy.backend.getWeights();
  const poisoned = new Map([...saved].map(([name, w]) => [name, name === "head.bias" ? new Float32Array(w.length).fill(NaN) : w]));
  await policy.backend.setWeights(poisoned);
  const err = await caught(() => policy.update(payload));
  assert.equal(err.grpcCode, 9);
  assert.match(err.message, /the GRPO loss is NaN; no update was applied/);
  await policy.backend.setWeights(saved);
  assert.equal((await policy.state()).weightsDigest, state.weightsDigest);
  assert.equal((await policy.update(payload)).policyVersion, 1);
  policy.dispose();
});

test("a config other than masked_lm is refused", () => {
  const scorer = tinyModel(1, { model_type: "sequence_scorer" });
  assert.throws(() => new PolicyEngine(scorer), /the policy needs a masked_lm generator; this checkpoint is a sequence_scorer/);
  scorer.dispose();
  assert.equal(tinyConfig().vocab_size, V);
});
