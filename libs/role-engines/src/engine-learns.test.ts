// Engine tests: the policy and reference engines as the GRPO loop's ports, on every engine (tfjs and
// onnxruntime) — the real PolicyEngine learns (the reward of a learnable judge rises), and its
// checkpoint restores it exactly (a resumed run matches an unbroken one). The loop's own behaviour
// is tested on in-memory ports in libs/loop (trainer-steps.test.ts, trainer.test.ts).
import { test, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "@grpomesh/model";
import { GRPO_DEFAULTS, GrpoTrainer, type DataPort, type GrpoConfig, type JudgePort, type MaskedBatchLike } from "@grpomesh/loop";
import { ENGINE_NAMES, type EngineName } from "./backends/types.ts";
import { maskedInputs, MASK, policyOn, referenceOn, tempDir, tinyModel } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

const T = 16;
const TOKEN_A = 3;
const dirs: Array<{ remove(): void }> = [];
after(() => dirs.forEach((d) => d.remove()));

/** Batches from a seeded stream; the cursor is the batch number. */
class TinyData implements DataPort<number> {
  private n = 0;
  constructor(private readonly batch: number) {}
  private make(seed: number): MaskedBatchLike {
    const inputs = maskedInputs(this.batch, T, seed);
    const targets = Int32Array.from(inputs, (x) => (x === MASK ? TOKEN_A : x));
    return { inputs, targets, mask: Uint8Array.from(inputs, (x) => (x === MASK ? 1 : 0)), batchSize: this.batch, seqLen: T };
  }
  next(): MaskedBatchLike {
    return this.make(1000 + this.n++);
  }
  cursor(): number {
    return this.n;
  }
  seek(cursor: number): void {
    this.n = cursor;
  }
  evalBatches(): MaskedBatchLike[] {
    return [this.make(1), this.make(2)];
  }
  /** Solved: every masked position holds the target's token ("a"). */
  solved(input: Int32Array, completion: Int32Array, target: Int32Array): boolean {
    return input.every((x, t) => x !== MASK || completion[t] === target[t]);
  }
}

/** Reward: the fraction of "a" tokens in the sequence — learnable by filling masks with "a". */
const countA: JudgePort = {
  async score(sequences, { count, seqLen, groupSize }) {
    const scores = new Float32Array(count);
    for (let s = 0; s < count; s++) {
      let a = 0;
      for (let t = 0; t < seqLen; t++) a += sequences[s * seqLen + t] === TOKEN_A ? 1 : 0;
      scores[s] = a / seqLen;
    }
    return { scores, groupVersions: new Array<string>(count / groupSize).fill("count-a") };
  },
};

function config(overrides: Partial<GrpoConfig> = {}): GrpoConfig {
  return {
    ...GRPO_DEFAULTS,
    batch_size: 8,
    group_size: 4,
    learning_rate: 1e-2,
    warmup_iters: 0,
    max_iters: 12,
    micro_batch_size: 4,
    eval_interval: 0,
    sample_interval: 0,
    checkpoint_interval: 0,
    ...overrides,
  };
}

/** Engines for one test, released when it ends, passed or failed (a live engine would keep the process up). */
async function ports(t: TestContext, engine: EngineName, dataBatch: number) {
  const policy = await policyOn(engine, tinyModel(1));
  const reference = await referenceOn(engine, tinyModel(1));
  t.after(() => {
    policy.dispose();
    reference.dispose();
  });
  return { policy, reference, judge: countA, data: new TinyData(dataBatch) };
}

for (const engine of ENGINE_NAMES) {
  test(`${engine} engine: GRPO updates on the real PolicyEngine raise the reward of a learnable judge`, async (t) => {
    const p = await ports(t, engine, 8);
    const trainer = new GrpoTrainer(p, config(), { maskTokenId: MASK });
    const first = await trainer.evaluate();
    const rewards: number[] = [];
    for (let i = 0; i < 12; i++) rewards.push((await trainer.trainStep()).mean_reward);
    const last = await trainer.evaluate();
    assert.deepEqual({ v: (await p.policy.state()).policyVersion, s: (await p.policy.state()).lastStep }, { v: 12, s: 12 });
    assert.equal(trainer.lastRecord!.policy_version, 12);
    assert.ok(
      last.mean_reward > first.mean_reward + 0.2,
      `held-out reward ${first.mean_reward.toFixed(3)} → ${last.mean_reward.toFixed(3)} (train: ${rewards.map((r) => r.toFixed(2)).join(" ")})`,
    );
    assert.ok(trainer.lastRecord!.mean_kl > 0);
  });

  test(`${engine} engine: its checkpoint restores the policy exactly, so a resumed run reaches the same weights as an unbroken run`, async (t) => {
    const runA = tempDir("engine-loop-");
    const runB = tempDir("engine-loop-");
    dirs.push(runA, runB);
    const unbroken = await ports(t, engine, 4);
    const a = new GrpoTrainer(unbroken, config({ max_iters: 4 }), { runDir: runA.path, maskTokenId: MASK });
    for (let i = 0; i < 4; i++) await a.trainStep();

    const killed = await ports(t, engine, 4);
    const b = new GrpoTrainer(killed, config({ max_iters: 4 }), { runDir: runB.path, maskTokenId: MASK });
    for (let i = 0; i < 2; i++) await b.trainStep();
    await b.checkpoint();
    await b.trainStep(); // lost with the process

    const restarted = await ports(t, engine, 4);
    const c = new GrpoTrainer(restarted, config({ max_iters: 4 }), { runDir: runB.path, maskTokenId: MASK });
    assert.equal(await c.resumeLatest(), 2);
    for (let i = 0; i < 2; i++) await c.trainStep();
    assert.equal((await restarted.policy.state()).weightsDigest, (await unbroken.policy.state()).weightsDigest);
    assert.equal((await restarted.policy.state()).lastStep, 4);
  });
}
