// The GRPO loop (DESIGN §2) as a small class over the four ports: batch → sample → judge →
// reference → advantages → update, with held-out evaluation, printed samples, JSONL records,
// atomic checkpoints of policy + orchestrator state, pause/resume and between-step actions.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, openSync, fsyncSync, closeSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "@grpomesh/data";
import { groupRelativeAdvantages, stepMetrics, type StepMetrics } from "@grpomesh/grpo";
import { Rng, mixSeeds, type RngState } from "@grpomesh/rng";
import type { GrpoConfig } from "./config.ts";
import type { DataPort, JudgePort, MaskedBatchLike, PolicyPort, ReferencePort, TrainParams } from "./ports.ts";

export interface Ports<C = unknown> {
  policy: PolicyPort;
  reference: ReferencePort;
  judge: JudgePort;
  data: DataPort<C>;
}

export interface PhaseTimes {
  data_ms: number;
  sample_ms: number;
  judge_ms: number;
  reference_ms: number;
  advantage_ms: number;
  update_ms: number;
  step_ms: number;
}

/** One step in the JSONL log: the seed's metrics (libs/grpo's StepMetrics) plus the run's own. */
export interface StepRecord extends StepMetrics {
  type: "step";
  step: number;
  time: string;
  policy_version: number;
  judge_version: string;
  /** mean_kl divided by the mean number of masked positions per input. */
  kl_per_token: number;
  grad_norm: number;
  learning_rate: number;
  tokens_per_s: number;
  sequences: number;
  replayed: boolean;
  phases: PhaseTimes;
}

export interface EvalRecord {
  type: "eval";
  step: number;
  time: string;
  mean_reward: number;
  accuracy: number;
  sequences: number;
  masked_tokens: number;
  judge_version: string;
  eval_ms: number;
}

export interface SampleView {
  input: string;
  completion: string;
  target: string;
  reward: number;
}

export interface TrainerHooks {
  onStep?(record: StepRecord): void;
  onEval?(record: EvalRecord): void;
  onSamples?(step: number, samples: SampleView[]): void;
  onWarning?(message: string): void;
  onCheckpoint?(dir: string, step: number): void;
}

export interface TrainerOptions {
  /** Run directory: log.jsonl, config.json, checkpoints/. Omit to keep everything in memory. */
  runDir?: string;
  maskTokenId: number;
  /** Token ids → text, for printed samples. */
  decode?: (ids: Int32Array) => string;
  hooks?: TrainerHooks;
  /** Recorded in checkpoints so a resume with different settings is noticed. */
  configForRecord?: object;
}

export interface OrchestratorCheckpoint {
  format: "grpomesh.orchestrator.v1";
  step: number;
  data_cursor: unknown;
  rng_state: RngState;
  judge_version: string;
  policy: { dir: string; weights_digest: string; policy_version: number; files: Record<string, string> };
  config: object;
  time: string;
}

const LATEST = "latest.json";
const WARNING_QUIET_STEPS = 20;

export class GrpoTrainer<C = unknown> {
  /** Number of steps applied so far; the next step is `step + 1`. */
  step = 0;
  private rng: Rng;
  private paused = false;
  private resumeWaiters: Array<() => void> = [];
  private betweenSteps: Array<() => Promise<void>> = [];
  lastJudgeVersion = "";
  private warned = new Map<string, { step: number; suppressed: number }>();
  lastRecord: StepRecord | undefined;
  lastEval: EvalRecord | undefined;

  constructor(
    private readonly ports: Ports<C>,
    readonly config: GrpoConfig,
    private readonly opts: TrainerOptions,
  ) {
    this.rng = new Rng(mixSeeds(config.seed, "orchestrator"));
    if (opts.runDir) mkdirSync(join(opts.runDir, "checkpoints"), { recursive: true });
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.resumeWaiters.splice(0).forEach((r) => r());
  }

  /** Runs `action` at the next step boundary (e.g. a judge swap); resolves with its result. */
  atNextBoundary<T>(action: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.betweenSteps.push(() => action().then(resolve, (e) => { reject(e); }));
      // A paused loop sits at a boundary: wake it so the action runs now (it stays paused after).
      this.resumeWaiters.splice(0).forEach((r) => r());
    });
  }

  trainParams(): TrainParams {
    const c = this.config;
    return {
      learningRate: c.learning_rate,
      warmupSteps: c.warmup_iters,
      maxSteps: c.max_iters,
      minLrRatio: c.min_lr_ratio,
      weightDecay: c.weight_decay,
      beta1: c.beta1,
      beta2: c.beta2,
      eps: c.adam_eps,
      gradClip: c.grad_clip,
      microBatchSize: c.micro_batch_size,
      klBeta: c.kl_beta,
      klEstimator: c.kl_estimator,
      tokenReduction: c.token_reduction,
      ppoEpochs: c.ppo_epochs,
      clipEps: c.clip_eps,
      temperature: c.temperature,
    };
  }

  /** One GRPO step: the next batch through every role. */
  async trainStep(): Promise<StepRecord> {
    const c = this.config;
    const k = c.group_size;
    const t = new Stopwatch();
    const batch = this.ports.data.next();
    const shape = { batch: batch.batchSize, seqLen: batch.seqLen };
    const phases: Partial<PhaseTimes> = { data_ms: t.lap() };
    const stepNo = this.step + 1;
    const seed = String(this.rng.nextU32());

    // The reference needs only the inputs: it computes while the policy samples and the judges
    // score (other machines in a deployment), and reference_ms is what the step still waits after.
    const reference = this.ports.reference.logProbs(batch.inputs, shape, c.temperature);
    reference.catch(() => {}); // awaited below; an earlier failure must not leave it unhandled
    const sampled = await this.ports.policy.sample(batch.inputs, shape, { temperature: c.temperature, topP: c.top_p, groupSize: k, seed });
    phases.sample_ms = t.lap();
    const judged = await this.ports.judge.score(sampled.completions, { count: batch.batchSize * k, seqLen: batch.seqLen, groupSize: k });
    phases.judge_ms = t.lap();
    const refLogProbs = await reference;
    phases.reference_ms = t.lap();

    const adv = groupRelativeAdvantages(judged.scores, { groupSize: k, norm: c.advantage_norm, stdFloor: c.std_floor });
    let advantages = adv.advantages;
    if (c.drop_zero_std_groups) {
      advantages = Float32Array.from(advantages);
      for (let g = 0; g < batch.batchSize; g++) if (adv.groupStds[g] === 0) advantages.fill(0, g * k, (g + 1) * k);
    }
    phases.advantage_ms = t.lap();

    const updated = await this.ports.policy.update({
      step: stepNo,
      batch: batch.batchSize,
      seqLen: batch.seqLen,
      groupSize: k,
      inputs: batch.inputs,
      completions: sampled.completions,
      advantages,
      refLogProbs,
      oldLogProbs: sampled.logProbs,
      params: this.trainParams(),
    });
    phases.update_ms = t.lap();
    phases.step_ms = t.total();

    let masked = 0;
    for (let i = 0; i < batch.mask.length; i++) masked += batch.mask[i]!;
    const maskedPerInput = masked / batch.batchSize;
    const versions = new Set(judged.groupVersions);
    const judgeVersion = [...versions].join("+");
    if (versions.size > 1) this.warn("judge-versions", `step ${stepNo}: groups were scored by several judge versions (${judgeVersion})`);
    this.lastJudgeVersion = judgeVersion;
    const m = updated.metrics;
    const record: StepRecord = {
      type: "step",
      step: stepNo,
      time: new Date().toISOString(),
      policy_version: updated.policyVersion,
      judge_version: judgeVersion,
      ...stepMetrics(judged.scores, { ...adv, advantages }, m),
      kl_per_token: c.token_reduction === "mean" ? m.meanKl : m.meanKl / maskedPerInput,
      grad_norm: m.gradNorm,
      learning_rate: m.learningRate,
      tokens_per_s: (batch.batchSize * k * batch.seqLen) / (phases.step_ms! / 1000),
      sequences: batch.batchSize * k,
      replayed: updated.replayed,
      phases: phases as PhaseTimes,
    };
    this.step = stepNo;
    this.lastRecord = record;
    this.append(record);
    this.opts.hooks?.onStep?.(record);
    if (adv.fracZeroStdGroups >= c.warn_frac_zero_std) {
      this.warn("zero-std", `step ${stepNo}: ${(adv.fracZeroStdGroups * 100).toFixed(0)}% of groups have all-equal rewards — no learning signal from them (rewards stopped varying?)`);
    }
    if (!Number.isFinite(record.kl_per_token) || record.kl_per_token > c.warn_kl) {
      this.warn("kl", `step ${stepNo}: KL to the reference is ${record.kl_per_token.toFixed(3)} nats per masked token (> warn_kl ${c.warn_kl}) — the policy is drifting; lower learning_rate or raise kl_beta`);
    }
    if (c.sample_interval > 0 && stepNo % c.sample_interval === 0 && this.opts.decode) {
      this.opts.hooks?.onSamples?.(stepNo, this.samplesFrom(batch, sampled.completions, judged.scores, c.samples_to_show));
    }
    return record;
  }

  /** Held-out evaluation: one completion per input (fixed seeds), mean judge reward and masked-token accuracy. */
  async evaluate(): Promise<EvalRecord> {
    const c = this.config;
    const t = new Stopwatch();
    let rewardSum = 0, sequences = 0, correct = 0, masked = 0;
    const versions = new Set<string>();
    const batches = this.ports.data.evalBatches();
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const shape = { batch: b.batchSize, seqLen: b.seqLen };
      // One completion per input with a fixed seed per batch, so evaluations are comparable.
      const sampled = await this.ports.policy.sample(b.inputs, shape, { temperature: c.temperature, topP: c.top_p, groupSize: 1, seed: String(mixSeeds("eval", i)) });
      const judged = await this.ports.judge.score(sampled.completions, { count: b.batchSize, seqLen: b.seqLen, groupSize: 1 });
      judged.groupVersions.forEach((v) => versions.add(v));
      for (let r = 0; r < b.batchSize; r++) {
        rewardSum += judged.scores[r]!;
        sequences++;
        for (let p = 0; p < b.seqLen; p++) {
          const idx = r * b.seqLen + p;
          if (b.mask[idx]) {
            masked++;
            if (sampled.completions[idx] === b.targets[idx]) correct++;
          }
        }
      }
    }
    const record: EvalRecord = {
      type: "eval",
      step: this.step,
      time: new Date().toISOString(),
      mean_reward: rewardSum / Math.max(1, sequences),
      accuracy: correct / Math.max(1, masked),
      sequences,
      masked_tokens: masked,
      judge_version: [...versions].join("+"),
      eval_ms: t.total(),
    };
    this.lastEval = record;
    this.append(record);
    this.opts.hooks?.onEval?.(record);
    return record;
  }

  /** Trains until max_iters (or until `signal` aborts), evaluating and checkpointing on schedule. */
  async run(signal?: AbortSignal): Promise<{ first: EvalRecord; last: EvalRecord; steps: number }> {
    const c = this.config;
    const first = this.step === 0 || !this.lastEval ? await this.evaluate() : this.lastEval;
    while (this.step < c.max_iters && !signal?.aborted) {
      await this.boundary(signal);
      if (signal?.aborted) break;
      await this.trainStep();
      if (c.eval_interval > 0 && this.step % c.eval_interval === 0 && this.step < c.max_iters) await this.evaluate();
      if (c.checkpoint_interval > 0 && this.step % c.checkpoint_interval === 0) await this.checkpoint();
    }
    await this.boundary(signal);
    const last = this.lastEval?.step === this.step ? this.lastEval : await this.evaluate();
    if (this.opts.runDir && (c.checkpoint_interval === 0 || this.step % c.checkpoint_interval !== 0)) await this.checkpoint();
    return { first, last, steps: this.step };
  }

  private async boundary(signal?: AbortSignal): Promise<void> {
    for (const action of this.betweenSteps.splice(0)) await action();
    while (this.paused && !signal?.aborted) {
      await new Promise<void>((r) => {
        this.resumeWaiters.push(r);
        signal?.addEventListener("abort", () => r(), { once: true });
      });
      for (const action of this.betweenSteps.splice(0)) await action();
    }
  }

  /** Writes a consistent checkpoint: policy weights + optimizer, then orchestrator state, then the pointer. */
  async checkpoint(): Promise<string> {
    const runDir = this.requireRunDir();
    const name = `step-${String(this.step).padStart(6, "0")}`;
    const dir = join(runDir, "checkpoints", name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const policyDir = join(dir, "policy");
    const saved = await this.ports.policy.saveCheckpoint(policyDir);
    const files: Record<string, string> = {};
    for (const f of readdirSync(policyDir).sort()) files[f] = sha256File(join(policyDir, f));
    const state: OrchestratorCheckpoint = {
      format: "grpomesh.orchestrator.v1",
      step: this.step,
      data_cursor: this.ports.data.cursor(),
      rng_state: this.rng.state(),
      judge_version: this.lastJudgeVersion,
      policy: { dir: "policy", weights_digest: saved.weightsDigest, policy_version: saved.policyVersion, files },
      config: this.opts.configForRecord ?? this.config,
      time: new Date().toISOString(),
    };
    writeAtomic(join(dir, "orchestrator.json"), JSON.stringify(state, null, 2) + "\n");
    writeAtomic(join(runDir, "checkpoints", LATEST), JSON.stringify({ checkpoint: name, step: this.step }) + "\n");
    this.opts.hooks?.onCheckpoint?.(dir, this.step);
    return dir;
  }

  /** Continues from the latest complete checkpoint of the run directory; returns its step, or 0 if none. */
  async resumeLatest(): Promise<number> {
    const runDir = this.requireRunDir();
    const pointer = join(runDir, "checkpoints", LATEST);
    if (!existsSync(pointer)) return 0;
    const { checkpoint } = JSON.parse(readFileSync(pointer, "utf8")) as { checkpoint: string };
    return this.resumeFrom(join(runDir, "checkpoints", checkpoint));
  }

  async resumeFrom(dir: string): Promise<number> {
    const state = JSON.parse(readFileSync(join(dir, "orchestrator.json"), "utf8")) as OrchestratorCheckpoint;
    if (state.format !== "grpomesh.orchestrator.v1") throw new Error(`${dir}/orchestrator.json has format ${state.format}; expected grpomesh.orchestrator.v1`);
    const policyDir = join(dir, state.policy.dir);
    for (const [file, digest] of Object.entries(state.policy.files)) {
      const actual = sha256File(join(policyDir, file));
      if (actual !== digest) throw new Error(`checkpoint ${dir} is corrupt: ${state.policy.dir}/${file} has sha256 ${actual}; the checkpoint recorded ${digest}`);
    }
    const loaded = await this.ports.policy.loadCheckpoint(policyDir);
    if (loaded.weightsDigest !== state.policy.weights_digest) {
      throw new Error(`policy loaded weights with digest ${loaded.weightsDigest}; checkpoint ${dir} recorded ${state.policy.weights_digest}`);
    }
    this.ports.data.seek(state.data_cursor as C);
    this.rng = Rng.fromState(state.rng_state);
    this.step = state.step;
    this.lastJudgeVersion = state.judge_version;
    this.lastEval = undefined;
    return state.step;
  }

  private samplesFrom(batch: MaskedBatchLike, completions: Int32Array, rewards: Float32Array, count: number): SampleView[] {
    const decode = this.opts.decode!;
    const T = batch.seqLen, k = this.config.group_size;
    const out: SampleView[] = [];
    for (let i = 0; i < Math.min(count, batch.batchSize); i++) {
      const row = (a: Int32Array, off: number) => a.subarray(off, off + T);
      out.push({
        input: decode(row(batch.inputs, i * T)),
        completion: decode(row(completions, i * k * T)),
        target: decode(row(batch.targets, i * T)),
        reward: rewards[i * k]!,
      });
    }
    return out;
  }

  /**
   * Every warning goes to the log; the console hook hears a kind at most once every
   * WARNING_QUIET_STEPS steps (with a count of what it missed), so a persistent condition is
   * visible without drowning the progress output.
   */
  private warn(kind: string, message: string): void {
    this.append({ type: "warning", kind, step: this.step, time: new Date().toISOString(), message });
    const last = this.warned.get(kind);
    if (last && this.step - last.step < WARNING_QUIET_STEPS) {
      last.suppressed++;
      return;
    }
    const note = last?.suppressed ? ` (and ${last.suppressed} similar warning(s) since step ${last.step}, see log.jsonl)` : "";
    this.warned.set(kind, { step: this.step, suppressed: 0 });
    this.opts.hooks?.onWarning?.(message + note);
  }

  private append(record: object): void {
    if (this.opts.runDir) appendFileSync(join(this.opts.runDir, "log.jsonl"), JSON.stringify(record) + "\n");
  }

  private requireRunDir(): string {
    if (!this.opts.runDir) throw new Error("this trainer has no run directory; pass runDir to checkpoint or resume");
    return this.opts.runDir;
  }
}

class Stopwatch {
  private start = performance.now();
  private last = this.start;
  lap(): number {
    const now = performance.now();
    const ms = now - this.last;
    this.last = now;
    return ms;
  }
  total(): number {
    return performance.now() - this.start;
  }
}

export function sha256File(path: string): string {
  return sha256Hex(readFileSync(path));
}

/** temp file + fsync + rename: readers see the old file or the new one, never half of one. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

export function latestCheckpoint(runDir: string): string | undefined {
  const pointer = join(runDir, "checkpoints", LATEST);
  if (!existsSync(pointer)) return undefined;
  const { checkpoint } = JSON.parse(readFileSync(pointer, "utf8")) as { checkpoint: string };
  const dir = join(runDir, "checkpoints", checkpoint);
  return existsSync(dir) && statSync(dir).isDirectory() ? dir : undefined;
}
