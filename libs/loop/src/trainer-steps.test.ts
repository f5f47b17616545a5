// The GRPO loop itself on in-memory ports (no engine): each step advances the policy's version and
// step once, the reward rises on a learnable judge when the policy follows the advantages it is
// sent, and a run resumed from its checkpoint (after losing a step with the process) reaches the
// same weights as an unbroken run. libs/role-engines's engine-learns.test.ts runs the same loop on the
// real engines.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Hex } from "@grpomesh/data";
import { Rng } from "@grpomesh/rng";
import { TRAIN_PARAM_SETTINGS } from "@grpomesh/grpo/settings";
import { GrpoTrainer } from "./trainer.ts";
import { SYNCHRONOUS_WEIGHTS } from "./ports.ts";
import type { BatchShape, PolicyPort, PolicyState, SampleParams, SampleResult, UpdatePayload, UpdateResult } from "./ports.ts";
import { TINY_MASK, TINY_VOCAB, TinyData, tinyConfig, tinyJudge, tinyPorts, tinyReference } from "./testing.ts";

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempRun(): string {
  const dir = mkdtempSync(join(tmpdir(), "loop-steps-"));
  made.push(dir);
  return dir;
}

/**
 * A policy that really learns, in memory: one softmax over the vocabulary shared by every masked
 * position, sampled from the call's seed, and moved along Σ advantage · ∇ log p(completion) by
 * each update. It rewards the loop for sending each completion's own advantage with the right sign.
 */
class LearnerPolicy implements PolicyPort {
  logits = new Float64Array(TINY_VOCAB);
  lastStep = 0;
  version = 0;

  private probs(): Float64Array {
    // Token 0 is the mask and never a fill-in.
    const p = new Float64Array(TINY_VOCAB);
    let max = -Infinity;
    for (let v = 1; v < TINY_VOCAB; v++) max = Math.max(max, this.logits[v]!);
    let z = 0;
    for (let v = 1; v < TINY_VOCAB; v++) z += p[v] = Math.exp(this.logits[v]! - max);
    for (let v = 1; v < TINY_VOCAB; v++) p[v]! /= z;
    return p;
  }

  async sample(inputs: Int32Array, shape: BatchShape, params: SampleParams): Promise<SampleResult> {
    const k = params.groupSize;
    const T = shape.seqLen;
    const p = this.probs();
    const rng = new Rng(params.seed);
    const completions = new Int32Array(shape.batch * k * T);
    const logProbs = new Float32Array(shape.batch * k);
    for (let b = 0; b < shape.batch; b++) {
      for (let g = 0; g < k; g++) {
        for (let t = 0; t < T; t++) {
          const x = inputs[b * T + t]!;
          const o = (b * k + g) * T + t;
          if (x !== TINY_MASK) {
            completions[o] = x;
            continue;
          }
          let u = rng.next();
          let v = 1;
          while (v < TINY_VOCAB - 1 && (u -= p[v]!) > 0) v++;
          completions[o] = v;
          logProbs[b * k + g]! += Math.log(p[v]!);
        }
      }
    }
    return { completions, logProbs, policyVersion: this.version };
  }

  async update(u: UpdatePayload): Promise<UpdateResult> {
    const p = this.probs();
    const grad = new Float64Array(TINY_VOCAB);
    const T = u.seqLen;
    for (let b = 0; b < u.batch; b++) {
      for (let g = 0; g < u.groupSize; g++) {
        const a = u.advantages[b * u.groupSize + g]!;
        for (let t = 0; t < T; t++) {
          if (u.inputs[b * T + t] !== TINY_MASK) continue;
          const x = u.completions[(b * u.groupSize + g) * T + t]!;
          for (let v = 1; v < TINY_VOCAB; v++) grad[v]! += a * ((v === x ? 1 : 0) - p[v]!);
        }
      }
    }
    for (let v = 1; v < TINY_VOCAB; v++) this.logits[v]! += u.params.learningRate * grad[v]!;
    this.lastStep = u.step;
    this.version++;
    const metrics = {
      loss: 0,
      pgLoss: 0,
      klPenalty: 0,
      meanKl: 0.01,
      meanLogProb: 0,
      gradNorm: Math.hypot(...grad),
      learningRate: u.params.learningRate,
      clipFrac: 0,
      updateMs: 1,
      tokens: 0,
      ...SYNCHRONOUS_WEIGHTS,
    };
    return { step: u.step, policyVersion: this.version, replayed: false, metrics };
  }

  async saveCheckpoint(): Promise<PolicyState & { files: string[] }> {
    throw new Error("not used here");
  }

  async loadCheckpoint(): Promise<PolicyState> {
    throw new Error("not used here");
  }

  async state(): Promise<PolicyState> {
    return { policyVersion: this.version, lastStep: this.lastStep, weightsDigest: sha256Hex(new Uint8Array(this.logits.buffer.slice(0))) };
  }
}

test("the loop raises the reward of a learnable judge; each step advances the policy's version and step once", async () => {
  const ports = { policy: new LearnerPolicy(), reference: tinyReference, judge: tinyJudge(), data: new TinyData(8) };
  const trainer = new GrpoTrainer(ports, tinyConfig({ batch_size: 8, micro_batch_size: 4, max_iters: 12, checkpoint_interval: 0 }), { maskTokenId: TINY_MASK });
  const first = await trainer.evaluate();
  const rewards: number[] = [];
  for (let i = 0; i < 12; i++) rewards.push((await trainer.trainStep()).mean_reward);
  const last = await trainer.evaluate();
  assert.deepEqual({ v: (await ports.policy.state()).policyVersion, s: (await ports.policy.state()).lastStep }, { v: 12, s: 12 });
  assert.equal(trainer.lastRecord!.policy_version, 12);
  assert.ok(
    last.mean_reward > first.mean_reward + 0.2,
    `held-out reward ${first.mean_reward.toFixed(3)} → ${last.mean_reward.toFixed(3)} (train: ${rewards.map((r) => r.toFixed(2)).join(" ")})`,
  );
  assert.ok(trainer.lastRecord!.mean_kl > 0);
});

test("a run resumed from its checkpoint, after losing a step with the process, reaches the same weights as an unbroken run", async () => {
  const runA = tempRun();
  const runB = tempRun();
  const config = tinyConfig({ max_iters: 4, checkpoint_interval: 0 });
  const unbroken = tinyPorts();
  const a = new GrpoTrainer(unbroken, config, { runDir: runA, maskTokenId: TINY_MASK });
  for (let i = 0; i < 4; i++) await a.trainStep();

  const killed = tinyPorts();
  const b = new GrpoTrainer(killed, config, { runDir: runB, maskTokenId: TINY_MASK });
  for (let i = 0; i < 2; i++) await b.trainStep();
  await b.checkpoint();
  await b.trainStep(); // lost with the process

  const restarted = tinyPorts();
  const c = new GrpoTrainer(restarted, config, { runDir: runB, maskTokenId: TINY_MASK });
  assert.equal(await c.resumeLatest(), 2);
  assert.equal((await restarted.policy.state()).lastStep, 2, "the policy is back at the checkpoint's step: the lost step is redone");
  for (let i = 0; i < 2; i++) await c.trainStep();
  assert.equal((await restarted.policy.state()).weightsDigest, (await unbroken.policy.state()).weightsDigest);
  assert.equal((await restarted.policy.state()).lastStep, 4);
});

test("trainParams carries each GRPO setting in its TrainParams field (one map, TRAIN_PARAM_SETTINGS)", () => {
  const config = tinyConfig({ adam_eps: 3e-7, warmup_iters: 5, max_iters: 40, kl_estimator: "k3", token_reduction: "mean", micro_batch_size: 1 });
  const params = new GrpoTrainer(tinyPorts(), config, { maskTokenId: TINY_MASK }).trainParams();
  assert.deepEqual(
    [params.eps, params.warmupSteps, params.maxSteps, params.klEstimator, params.tokenReduction, params.microBatchSize, params.learningRate],
    [3e-7, 5, 40, "k3", "mean", 1, config.learning_rate],
  );
  assert.deepEqual(Object.keys(params).sort(), Object.keys(TRAIN_PARAM_SETTINGS).sort());
  for (const [field, key] of Object.entries(TRAIN_PARAM_SETTINGS)) assert.equal(params[field as keyof typeof params], config[key], field);
});

test("advantage_clip clips each advantage the policy is sent to [−c, c] after normalisation; 0 leaves them as they are", async () => {
  const sent = async (advantage_clip: number) => {
    const ports = tinyPorts();
    const updates: UpdatePayload[] = [];
    const update = ports.policy.update.bind(ports.policy);
    ports.policy.update = (p) => (updates.push(p), update(p));
    await new GrpoTrainer(ports, tinyConfig({ advantage_clip, advantage_norm: "group" }), { maskTokenId: TINY_MASK }).trainStep();
    return [...updates[0]!.advantages];
  };
  const free = await sent(0);
  const clipped = await sent(0.8);
  assert.ok(Math.max(...free.map(Math.abs)) > 0.8, `no advantage beyond 0.8 to clip: ${free}`);
  assert.deepEqual(
    clipped,
    free.map((a) => Math.fround(Math.min(0.8, Math.max(-0.8, a)))),
  );
  assert.ok(clipped.some((a) => Math.abs(a) === Math.fround(0.8)) && clipped.some((a) => Math.abs(a) < 0.8), "some clipped, some left");
});
