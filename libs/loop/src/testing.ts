// Small in-process ports for tests of the loop and of the services around it (`@grpomesh/loop/testing`).
// They are real implementations of the ports, only tiny: the policy's weights are a vector that
// every update changes (deterministically, from the update's own numbers), saved to and loaded
// from files with a digest, so a resumed run that differs from an unbroken one shows up.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "@grpomesh/data";
import { GRPO_DEFAULTS, type GrpoConfig } from "./config.ts";
import type {
  BatchShape,
  DataPort,
  JudgePort,
  MaskedBatchLike,
  PolicyPort,
  PolicyState,
  ReferencePort,
  SampleParams,
  SampleResult,
  UpdatePayload,
  UpdateResult,
} from "./ports.ts";
import { SYNCHRONOUS_WEIGHTS } from "./ports.ts";

export const TINY_MASK = 0;
export const TINY_VOCAB = 8;
export const TINY_SEQ_LEN = 8;

/** FNV-1a over a string: a stable small hash for deterministic "sampling". */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class TinyPolicy implements PolicyPort {
  weights = new Float64Array(4);
  lastStep = 0;
  version = 0;
  /** Milliseconds each update waits (to hold a step in flight in pause tests). */
  updateDelayMs = 0;

  async sample(inputs: Int32Array, shape: BatchShape, params: SampleParams): Promise<SampleResult> {
    const k = params.groupSize;
    const T = shape.seqLen;
    const completions = new Int32Array(shape.batch * k * T);
    const bias = Math.round(this.weights[0]! * 100);
    for (let b = 0; b < shape.batch; b++) {
      for (let g = 0; g < k; g++) {
        for (let t = 0; t < T; t++) {
          const x = inputs[b * T + t]!;
          const o = (b * k + g) * T + t;
          completions[o] = x === TINY_MASK ? 1 + ((hash(`${params.seed}:${o}`) + bias) % (TINY_VOCAB - 1)) : x;
        }
      }
    }
    return { completions, logProbs: new Float32Array(shape.batch * k), policyVersion: this.version };
  }

  async update(p: UpdatePayload): Promise<UpdateResult> {
    if (this.updateDelayMs) await new Promise((r) => setTimeout(r, this.updateDelayMs));
    let adv = 0;
    for (const a of p.advantages) adv += Math.abs(a);
    let tokens = 0;
    for (const t of p.completions) tokens += t;
    for (let i = 0; i < this.weights.length; i++) this.weights[i]! += p.params.learningRate * (adv + (tokens % 97) * (i + 1) * 1e-3);
    this.lastStep = p.step;
    const staleness = p.behaviourVersion === undefined ? 0 : this.version - p.behaviourVersion;
    this.version++;
    const metrics = {
      loss: adv,
      pgLoss: adv,
      klPenalty: 0,
      meanKl: 0.01 * p.step,
      meanLogProb: 0,
      gradNorm: adv,
      learningRate: p.params.learningRate,
      clipFrac: 0,
      updateMs: 1,
      tokens,
      ...SYNCHRONOUS_WEIGHTS,
      staleness,
    };
    return { step: p.step, policyVersion: this.version, replayed: false, metrics };
  }

  private digest(): string {
    return sha256Hex(new Uint8Array(this.weights.buffer.slice(0)));
  }

  async saveCheckpoint(dir: string): Promise<PolicyState & { files: string[] }> {
    if (existsSync(dir)) throw new Error(`${dir} exists; a checkpoint is written to a new folder`);
    mkdirSync(dir);
    writeFileSync(join(dir, "weights.bin"), new Uint8Array(this.weights.buffer.slice(0)));
    writeFileSync(join(dir, "state.json"), JSON.stringify({ lastStep: this.lastStep, version: this.version }));
    return { files: ["state.json", "weights.bin"], ...(await this.state()) };
  }

  async loadCheckpoint(dir: string): Promise<PolicyState> {
    const bytes = readFileSync(join(dir, "weights.bin"));
    this.weights = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const s = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { lastStep: number; version: number };
    this.lastStep = s.lastStep;
    this.version = s.version;
    return this.state();
  }

  async state(): Promise<PolicyState> {
    return { policyVersion: this.version, lastStep: this.lastStep, weightsDigest: this.digest() };
  }
}

export const tinyReference: ReferencePort = {
  async logProbs(_inputs, shape) {
    return new Float32Array(shape.batch * shape.seqLen * TINY_VOCAB);
  },
};

/** Reward: the fraction of token 1 in the sequence. `delayMs` holds each call (for pause tests). */
export function tinyJudge(delayMs = 0): JudgePort {
  return {
    async score(sequences, { count, seqLen, groupSize }) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const scores = new Float32Array(count);
      for (let s = 0; s < count; s++) {
        let ones = 0;
        for (let t = 0; t < seqLen; t++) ones += sequences[s * seqLen + t] === 1 ? 1 : 0;
        scores[s] = ones / seqLen;
      }
      return { scores, groupVersions: new Array<string>(count / groupSize).fill("ones-v1") };
    },
  };
}

/** Batches from a counter; the cursor is the batch number. */
export class TinyData implements DataPort<number> {
  private n = 0;
  constructor(private readonly batch = 2) {}
  private make(seed: number): MaskedBatchLike {
    const T = TINY_SEQ_LEN;
    const inputs = new Int32Array(this.batch * T);
    for (let i = 0; i < inputs.length; i++) inputs[i] = hash(`${seed}:${i}`) % 3 === 0 ? TINY_MASK : 1 + (hash(`${seed}/${i}`) % (TINY_VOCAB - 1));
    const targets = Int32Array.from(inputs, (x) => (x === TINY_MASK ? 1 : x));
    return { inputs, targets, mask: Uint8Array.from(inputs, (x) => (x === TINY_MASK ? 1 : 0)), batchSize: this.batch, seqLen: T };
  }
  next(): MaskedBatchLike {
    return this.make(1000 + this.n++);
  }
  cursor(): number {
    return this.n;
  }
  seek(cursor: number): void {
    if (!Number.isInteger(cursor)) throw new Error(`TinyData cursor ${JSON.stringify(cursor)}; expected a batch number`);
    this.n = cursor;
  }
  evalBatches(): MaskedBatchLike[] {
    return [this.make(1), this.make(2)];
  }
  /** Solved: every masked position holds the target's token. */
  solved(input: Int32Array, completion: Int32Array, target: Int32Array): boolean {
    return input.every((x, t) => x !== TINY_MASK || completion[t] === target[t]);
  }
}

export function tinyPorts(opts: { judgeDelayMs?: number } = {}) {
  return { policy: new TinyPolicy(), reference: tinyReference, judge: tinyJudge(opts.judgeDelayMs), data: new TinyData() };
}

export function tinyConfig(overrides: Partial<GrpoConfig> = {}): GrpoConfig {
  return {
    ...GRPO_DEFAULTS,
    batch_size: 2,
    group_size: 4,
    learning_rate: 0.1,
    warmup_iters: 0,
    max_iters: 6,
    eval_interval: 0,
    sample_interval: 0,
    checkpoint_interval: 2,
    eval_batches: 2,
    ...overrides,
  };
}
