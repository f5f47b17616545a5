// The GRPO loop as a small class over the four ports: batch → sample → judge →
// reference → advantages → update, with held-out evaluation, printed samples, JSONL records,
// atomic checkpoints of policy + orchestrator state, pause/resume and between-step actions.
import { appendFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { groupRelativeAdvantages, stepMetrics, type StepMetrics } from "@grpomesh/grpo";
import { Rng, mixSeeds, type RngState } from "@grpomesh/rng";
import { TRAIN_PARAM_SETTINGS } from "@grpomesh/grpo/settings";
import type { GrpoConfig } from "./config.ts";

/** TRAIN_PARAM_SETTINGS names every TrainParams field and no other: a field added to the message without a setting does not compile. */
type Fields = keyof typeof TRAIN_PARAM_SETTINGS;
const fieldsCovered: [keyof TrainParams] extends [Fields] ? ([Fields] extends [keyof TrainParams] ? true : never) : never = true;
import type { DataPort, JudgePort, JudgeScores, MaskedBatchLike, PolicyPort, ReferencePort, SampleResult, TrainParams } from "./ports.ts";
import {
  CHECKPOINTS_DIR,
  CONFIG_FILE,
  LATEST_FILE,
  LOG_FILE,
  ORCHESTRATOR_FORMAT,
  ORCHESTRATOR_STATE_FILE,
  checkpointName,
  chooseCheckpoint,
  cutLogBack,
  ensureRunDir,
  inRunDir,
  listCheckpointFolders,
  readLog,
  setCheckpointsAside,
  sha256File,
  verifyCheckpoint,
  wallSecondsSoFar,
  writeAtomic,
  type CheckpointChoice,
  type OrchestratorCheckpoint,
  type SkippedCheckpoint,
} from "./run-dir.ts";

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
  /**
   * What the step still waited for the reference after sampling and judging: the reference needs
   * only the inputs, so it computes beside them, and 0 means it was fully hidden.
   */
  reference_ms: number;
  advantage_ms: number;
  update_ms: number;
  /**
   * Synchronous steps: the step's wall time. Pipelined (max_staleness > 0): the time since the
   * previous step ended, so 1000/step_ms is the rate steps are applied at; sample_ms and judge_ms
   * are then the calls' own durations, which overlapped earlier steps' updates.
   */
  step_ms: number;
}

/** The roles' share of a step's wall time with no call of this orchestrator's in flight. */
export interface IdleFractions {
  policy: number;
  reference: number;
  judge: number;
}

/** One step in the JSONL log: the seed's metrics (libs/grpo's StepMetrics) plus the run's own. */
export interface StepRecord extends StepMetrics {
  type: "step";
  step: number;
  time: string;
  policy_version: number;
  judge_version: string;
  /** With named judges: each judge's mean score (before its weight) and version for this step. */
  judge_rewards?: Record<string, number>;
  judge_versions?: Record<string, string>;
  /** mean_kl divided by the mean number of masked positions per input. */
  kl_per_token: number;
  grad_norm: number;
  learning_rate: number;
  tokens_per_s: number;
  sequences: number;
  replayed: boolean;
  phases: PhaseTimes;
  /** The policy version that sampled this step's completions (policy_version − 1 − staleness). */
  behaviour_version: number;
  /** Policy versions between the sampling weights and the weights this update started from (0: synchronous). */
  staleness: number;
  /** The capped importance weights π_prox/π_behaviour the update used (all 1 when staleness is 0). */
  importance_weight_mean: number;
  importance_weight_min: number;
  importance_weight_max: number;
  /** Share of completions whose importance weight was cut to importance_weight_cap. */
  importance_weight_capped_frac: number;
  idle_fraction: IdleFractions;
}

export interface EvalRecord {
  type: "eval";
  step: number;
  time: string;
  mean_reward: number;
  accuracy: number;
  /** Share of held-out inputs the task's verifier says the completion solves. */
  solve_rate: number;
  sequences: number;
  masked_tokens: number;
  judge_version: string;
  /** With named judges: each judge's mean score (before its weight) and version(s) over the held-out set. */
  judge_rewards?: Record<string, number>;
  judge_versions?: Record<string, string>;
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
  /** Recorded in checkpoints (and config.json) so a resume restores the run's settings. */
  configForRecord?: object;
  /** When this process began (ms since epoch), for the segment's wall time; default: construction. */
  segmentStartMs?: number;
}

export interface ResumeResult {
  step: number;
  /** The checkpoint folder the run continues from. */
  checkpoint: string;
  /** Newer checkpoints that did not verify (moved to checkpoints/set-aside/), with why. */
  skipped: SkippedCheckpoint[];
  notes: string[];
  /** Records cut from log.jsonl (the steps after the checkpoint, redone now). */
  supersededRecords: number;
  /** The configuration the checkpoint recorded. */
  config: object;
}

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
  /** The run's first evaluation (step 0), from this process or, after a resume, from the log. */
  firstEval: EvalRecord | undefined;
  /** True while run() is between its first and last step. */
  private running = false;
  /** The loop is parked at a step boundary because it was paused. */
  private parked = false;
  private parkWaiters: Array<(step: number) => void> = [];
  /** The checkpoint this trainer wrote or resumed from last: writing it again is a no-op, not an overwrite. */
  private lastCheckpoint: { step: number; dir: string } | undefined;
  private readonly segmentStartMs: number;
  /** Wall time of the run's earlier segments (processes before a resume), in seconds. */
  private priorWallS = 0;
  private runDirReady = false;
  /** Pipelined steps drawn and sampled ahead of the update (steps step+1, step+2, …). */
  private pipeline: Rollout[] = [];
  private readonly meters = new RoleMeters();

  constructor(
    private readonly ports: Ports<C>,
    readonly config: GrpoConfig,
    private readonly opts: TrainerOptions,
  ) {
    this.rng = new Rng(mixSeeds(config.seed, "orchestrator"));
    this.segmentStartMs = opts.segmentStartMs ?? Date.now();
  }

  /** A pause was asked for (the loop stops, or has stopped, at the next step boundary). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** The loop is stopped at a step boundary by a pause: no step is in flight. */
  get isParked(): boolean {
    return this.parked;
  }

  /**
   * Stops the loop at the next step boundary. Resolves with the last step applied once the loop
   * is parked there (at once when no loop runs), so the step a caller sees is the one it stopped at.
   */
  pause(): Promise<number> {
    this.paused = true;
    if (!this.running || this.parked) return Promise.resolve(this.step);
    return new Promise((resolve) => this.parkWaiters.push(resolve));
  }

  resume(): void {
    this.paused = false;
    this.resumeWaiters.splice(0).forEach((r) => r());
  }

  /** Seconds of wall time over every segment of the run so far (earlier processes included). */
  totalWallSeconds(): number {
    return this.priorWallS + (Date.now() - this.segmentStartMs) / 1000;
  }

  /** Runs `action` at the next step boundary (e.g. a judge swap); resolves with its result. */
  atNextBoundary<T>(action: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.betweenSteps.push(() =>
        action().then(resolve, (e) => {
          reject(e);
        }),
      );
      // A paused loop sits at a boundary: wake it so the action runs now (it stays paused after).
      this.resumeWaiters.splice(0).forEach((r) => r());
    });
  }

  /** The Update's TrainParams: each field the value of the GRPO setting it carries. */
  trainParams(): TrainParams {
    const c = this.config;
    return Object.fromEntries(Object.entries(TRAIN_PARAM_SETTINGS).map(([field, key]) => [field, c[key]])) as TrainParams;
  }

  /**
   * One synchronous GRPO step: the next batch through every role, sampled by the weights it
   * updates. (run() takes pipelined steps instead when max_staleness > 0: nextStep.)
   */
  async trainStep(): Promise<StepRecord> {
    this.meters.start();
    return this.finishStep(await this.rollout(), false);
  }

  /**
   * The next step as run() takes it: synchronous, or with max_staleness > 0 pipelined — the
   * following steps are sampled (by the weights of now) and judged while this one updates, at most
   * max_staleness policy versions ahead, never past the next interval checkpoint (the pipeline is
   * empty at each one, so a resumed run samples exactly what the unbroken one did).
   */
  async nextStep(): Promise<StepRecord> {
    const c = this.config;
    if (c.max_staleness === 0 && this.pipeline.length === 0) return this.trainStep();
    const n = this.step + 1;
    const checkpointAt = c.checkpoint_interval > 0 ? Math.ceil(n / c.checkpoint_interval) * c.checkpoint_interval : c.max_iters;
    const horizon = Math.min(n + c.max_staleness, c.max_iters, checkpointAt);
    this.meters.start();
    while (this.step + this.pipeline.length < horizon) this.pipeline.push(await this.rollout());
    return this.finishStep(this.pipeline.shift()!, true);
  }

  /** Draws the next batch, starts the reference on it, samples it (awaited: the policy takes calls in order), and starts the judges. */
  private async rollout(): Promise<Rollout> {
    const c = this.config;
    const k = c.group_size;
    const before = { cursor: this.ports.data.cursor(), rng: this.rng.state() };
    const t0 = performance.now();
    const batch = this.ports.data.next();
    const shape = { batch: batch.batchSize, seqLen: batch.seqLen };
    const seed = String(this.rng.nextU32());
    const t1 = performance.now();
    // The reference needs only the inputs: it computes while the policy samples and the judges
    // score (other machines in a deployment), and reference_ms is what the step still waits after.
    const reference = timedCall(this.meters.reference, () => this.ports.reference.logProbs(batch.inputs, shape, c.temperature));
    reference.catch(() => {}); // awaited in finishStep; an earlier failure must not leave it unhandled
    let sampled: SampleResult;
    try {
      const params = { temperature: c.temperature, topP: c.top_p, groupSize: k, seed };
      sampled = (await timedCall(this.meters.policy, () => this.ports.policy.sample(batch.inputs, shape, params))).value;
    } catch (err) {
      await reference.catch(() => {});
      throw err;
    }
    const t2 = performance.now();
    const judged = timedCall(this.meters.judge, () =>
      this.ports.judge.score(sampled.completions, { count: batch.batchSize * k, seqLen: batch.seqLen, groupSize: k }),
    );
    judged.catch(() => {});
    return { before, batch, sampled, judged, reference, dataMs: t1 - t0, sampleMs: t2 - t1 };
  }

  /** Waits for every call of the steps drawn ahead (they stay drawn): nothing of this trainer's is in flight after. */
  private async settlePipeline(): Promise<void> {
    await Promise.allSettled(this.pipeline.flatMap((r) => [r.judged, r.reference]));
  }

  /** Judged and referenced rollout → advantages → update → the step's record. */
  private async finishStep(r: Rollout, pipelined: boolean): Promise<StepRecord> {
    const c = this.config;
    const k = c.group_size;
    const { batch, sampled } = r;
    const stepNo = this.step + 1;
    const phases: Partial<PhaseTimes> = { data_ms: r.dataMs, sample_ms: r.sampleMs };
    const judgedCall = await r.judged;
    const referenceCall = await r.reference;
    const judged = judgedCall.value;
    const refLogProbs = referenceCall.value;
    phases.judge_ms = judgedCall.ms;
    phases.reference_ms = Math.max(0, referenceCall.end - judgedCall.end);
    const t = new Stopwatch();

    const adv = groupRelativeAdvantages(judged.scores, { groupSize: k, norm: c.advantage_norm, stdFloor: c.std_floor });
    let advantages = adv.advantages;
    if (c.drop_zero_std_groups) {
      advantages = Float32Array.from(advantages);
      for (let g = 0; g < batch.batchSize; g++) if (adv.groupStds[g] === 0) advantages.fill(0, g * k, (g + 1) * k);
    }
    const clip = c.advantage_clip;
    if (clip > 0) advantages = advantages.map((a) => Math.min(clip, Math.max(-clip, a)));
    phases.advantage_ms = t.lap();

    const { value: updated } = await timedCall(this.meters.policy, () =>
      this.ports.policy.update({
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
        // only pipelined requests carry it: a synchronous one is byte for byte what it always was
        ...(pipelined ? { behaviourVersion: sampled.policyVersion } : {}),
      }),
    );
    phases.update_ms = t.lap();
    const { wallMs: stepMs, idle } = this.meters.take();
    phases.step_ms = stepMs;

    let masked = 0;
    for (let i = 0; i < batch.mask.length; i++) masked += batch.mask[i]!;
    const maskedPerInput = masked / batch.batchSize;
    const versions = new Set(judged.groupVersions);
    const judgeVersion = [...versions].join("+");
    this.lastJudgeVersion = judgeVersion;
    const m = updated.metrics;
    const record: StepRecord = {
      type: "step",
      step: stepNo,
      time: new Date().toISOString(),
      policy_version: updated.policyVersion,
      judge_version: judgeVersion,
      ...judgeBreakdown(judged.judges && Object.entries(judged.judges).map(([name, j]) => ({ name, ...j }))),
      ...stepMetrics(judged.scores, { ...adv, advantages }, m),
      kl_per_token: c.token_reduction === "mean" ? m.meanKl : m.meanKl / maskedPerInput,
      grad_norm: m.gradNorm,
      learning_rate: m.learningRate,
      tokens_per_s: (batch.batchSize * k * batch.seqLen) / (phases.step_ms! / 1000),
      sequences: batch.batchSize * k,
      replayed: updated.replayed,
      phases: phases as PhaseTimes,
      behaviour_version: sampled.policyVersion,
      staleness: m.staleness,
      importance_weight_mean: m.importanceWeightMean,
      importance_weight_min: m.importanceWeightMin,
      importance_weight_max: m.importanceWeightMax,
      importance_weight_capped_frac: m.importanceWeightCappedFrac,
      idle_fraction: idle,
    };
    this.step = stepNo;
    this.lastRecord = record;
    this.append(record);
    this.opts.hooks?.onStep?.(record);
    // Warnings carry the step they are about (records after a checkpoint are cut on resume by step).
    if (versions.size > 1) this.warn("judge-versions", `step ${stepNo}: groups were scored by several judge versions (${judgeVersion})`);
    if (adv.fracZeroStdGroups >= c.warn_frac_zero_std) {
      this.warn(
        "zero-std",
        `step ${stepNo}: ${(adv.fracZeroStdGroups * 100).toFixed(0)}% of groups have all-equal rewards — no learning signal from them (rewards stopped varying?)`,
      );
    }
    if (!Number.isFinite(record.kl_per_token) || record.kl_per_token > c.warn_kl) {
      this.warn(
        "kl",
        `step ${stepNo}: KL to the reference is ${record.kl_per_token.toFixed(3)} nats per masked token (> warn_kl ${c.warn_kl}) — the policy is drifting; lower learning_rate or raise kl_beta`,
      );
    }
    if (c.sample_interval > 0 && stepNo % c.sample_interval === 0 && this.opts.decode) {
      const samples = this.samplesFrom(batch, sampled.completions, judged.scores, c.samples_to_show);
      // in the log too, for the run report's samples table
      this.append({ type: "samples", step: stepNo, time: new Date().toISOString(), samples });
      this.opts.hooks?.onSamples?.(stepNo, samples);
    }
    return record;
  }

  /** Held-out evaluation: one completion per input (fixed seeds): mean judge reward, masked-token accuracy and the verifier's solve rate. */
  async evaluate(): Promise<EvalRecord> {
    const c = this.config;
    const t = new Stopwatch();
    let rewardSum = 0,
      sequences = 0,
      correct = 0,
      masked = 0,
      solved = 0;
    const versions = new Set<string>();
    const perJudge = new Map<string, { mean: number; sequences: number; version: string }>();
    const batches = this.ports.data.evalBatches();
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const shape = { batch: b.batchSize, seqLen: b.seqLen };
      // One completion per input with a fixed seed per batch, so evaluations are comparable.
      const sampled = await this.ports.policy.sample(b.inputs, shape, {
        temperature: c.temperature,
        topP: c.top_p,
        groupSize: 1,
        seed: String(mixSeeds("eval", i)),
      });
      const judged = await this.ports.judge.score(sampled.completions, { count: b.batchSize, seqLen: b.seqLen, groupSize: 1 });
      judged.groupVersions.forEach((v) => versions.add(v));
      for (const [name, j] of Object.entries(judged.judges ?? {})) perJudge.set(name, meanOf(perJudge.get(name), j, b.batchSize));
      for (let r = 0; r < b.batchSize; r++) {
        rewardSum += judged.scores[r]!;
        sequences++;
        const row = (x: Int32Array) => x.subarray(r * b.seqLen, (r + 1) * b.seqLen);
        if (this.ports.data.solved(row(b.inputs), row(sampled.completions), row(b.targets))) solved++;
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
      solve_rate: solved / Math.max(1, sequences),
      sequences,
      masked_tokens: masked,
      judge_version: [...versions].join("+"),
      ...judgeBreakdown(perJudge.size ? [...perJudge].map(([name, j]) => ({ name, ...j })) : undefined),
      eval_ms: t.total(),
    };
    this.lastEval = record;
    this.firstEval ??= record;
    this.append(record);
    this.opts.hooks?.onEval?.(record);
    return record;
  }

  /**
   * Trains until max_iters (or until `signal` aborts), evaluating and checkpointing on schedule.
   * A fresh run evaluates at step 0 first; a resumed one takes that evaluation from the log.
   */
  async run(signal?: AbortSignal): Promise<{ first: EvalRecord; last: EvalRecord; steps: number }> {
    const c = this.config;
    this.running = true;
    try {
      if (!this.firstEval) await this.evaluate();
      // A checkpoint of the starting point: a run that dies before its first interval checkpoint
      // resumes from step 0 (the policy's initial weights reloaded) instead of having nothing to resume.
      if (this.opts.runDir && this.step === 0 && !this.lastCheckpoint) await this.checkpoint();
      while (this.step < c.max_iters && !signal?.aborted) {
        await this.boundary(signal);
        if (signal?.aborted) break;
        await this.nextStep();
        // At max_iters both come after the loop, in the same order: evaluation, then checkpoint.
        if (c.eval_interval > 0 && this.step % c.eval_interval === 0 && this.step < c.max_iters) await this.evaluate();
        if (c.checkpoint_interval > 0 && this.step % c.checkpoint_interval === 0 && this.step < c.max_iters) await this.checkpoint();
      }
      await this.boundary(signal);
      await this.settlePipeline(); // a stopped run's steps drawn ahead: redrawn after a resume (the checkpoint's cursor is before them)
      const last = this.lastEval?.step === this.step ? this.lastEval : await this.evaluate();
      if (this.opts.runDir && this.lastCheckpoint?.step !== this.step) await this.checkpoint();
      this.endSegment(this.step >= c.max_iters ? "finished" : "stopped");
      return { first: this.firstEval!, last, steps: this.step };
    } catch (err) {
      try {
        this.endSegment("failed", err instanceof Error ? err.message : String(err));
      } catch {
        // the run directory itself may be what failed (full, read-only); the first error is the one to report
      }
      throw err;
    } finally {
      await this.settlePipeline();
      this.pipeline = [];
      this.running = false;
      this.parkWaiters.splice(0).forEach((r) => r(this.step));
    }
  }

  private async boundary(signal?: AbortSignal): Promise<void> {
    const runQueued = async () => {
      // Actions (a swap, a checkpoint) and a pause see no call of this trainer's in flight.
      if (this.betweenSteps.length || this.paused) await this.settlePipeline();
      // Actions queued while one runs (a burst of swaps) are run here too: none waits for a later wake-up.
      while (this.betweenSteps.length) await this.betweenSteps.shift()!();
    };
    await runQueued();
    while (this.paused && !signal?.aborted) {
      this.parked = true;
      this.parkWaiters.splice(0).forEach((r) => r(this.step));
      await new Promise<void>((r) => {
        const wake = () => {
          signal?.removeEventListener("abort", wake);
          r();
        };
        this.resumeWaiters.push(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
      await runQueued();
    }
    this.parked = false;
  }

  /**
   * Starts a fresh run in the run directory: saves its configuration (config.json, what --resume
   * restores) and a "start" record with `fields` (e.g. where the configuration came from).
   */
  begin(fields: object = {}): void {
    const runDir = this.requireRunDir();
    const config = join(runDir, CONFIG_FILE);
    inRunDir(runDir, config, "write", () => writeAtomic(config, JSON.stringify(this.opts.configForRecord ?? this.config, null, 2) + "\n"));
    this.append({ type: "start", step: 0, time: new Date().toISOString(), segment_start: new Date(this.segmentStartMs).toISOString(), ...fields });
  }

  /** Writes the segment's "end" record: its wall time and the total so far (summary.json's wall_s). */
  private endSegment(reason: "finished" | "stopped" | "failed", error?: string): void {
    const wall = (Date.now() - this.segmentStartMs) / 1000;
    this.append({
      type: "end",
      step: this.step,
      time: new Date().toISOString(),
      reason,
      wall_s: wall,
      total_wall_s: this.priorWallS + wall,
      ...(error ? { error } : {}),
    });
  }

  /**
   * Writes a consistent checkpoint: policy weights + optimizer, then orchestrator state, then the
   * pointer. Never replaces a folder: asked again at the step it last wrote (or resumed from), it
   * returns that folder; a step folder it did not write is an error, and nothing is touched.
   */
  async checkpoint(): Promise<string> {
    const runDir = this.requireRunDir();
    const name = checkpointName(this.step);
    const root = join(runDir, CHECKPOINTS_DIR);
    const dir = join(root, name);
    if (this.lastCheckpoint?.step === this.step && this.lastCheckpoint.dir === dir && existsSync(dir)) return dir;
    if (existsSync(dir)) {
      throw new Error(
        `checkpoint folder ${dir} already exists and this run did not write it; nothing was overwritten — move it away, or resume from it with --resume`,
      );
    }
    inRunDir(runDir, root, "create folder", () => existsSync(root) || mkdirSync(root));
    inRunDir(runDir, dir, "create folder", () => mkdirSync(dir));
    const policyDir = join(dir, "policy");
    const saved = await this.ports.policy.saveCheckpoint(policyDir);
    const files: Record<string, string> = {};
    for (const f of readdirSync(policyDir).sort()) files[f] = sha256File(join(policyDir, f));
    const state: OrchestratorCheckpoint = {
      format: ORCHESTRATOR_FORMAT,
      step: this.step,
      // Steps drawn ahead (a checkpoint asked for between pipelined steps) are not in it: a resume draws them again.
      data_cursor: this.pipeline[0]?.before.cursor ?? this.ports.data.cursor(),
      rng_state: this.pipeline[0]?.before.rng ?? this.rng.state(),
      judge_version: this.lastJudgeVersion,
      policy: { dir: "policy", weights_digest: saved.weightsDigest, policy_version: saved.policyVersion, files },
      config: this.opts.configForRecord ?? this.config,
      time: new Date().toISOString(),
    };
    const stateFile = join(dir, ORCHESTRATOR_STATE_FILE);
    inRunDir(runDir, stateFile, "write", () => writeAtomic(stateFile, JSON.stringify(state, null, 2) + "\n"));
    const pointer = join(root, LATEST_FILE);
    inRunDir(runDir, pointer, "write", () => writeAtomic(pointer, JSON.stringify({ checkpoint: name, step: this.step }) + "\n"));
    this.lastCheckpoint = { step: this.step, dir };
    this.opts.hooks?.onCheckpoint?.(dir, this.step);
    return dir;
  }

  /** Continues from the newest checkpoint of the run directory that verifies (see resumeFromCheckpoint); returns its step. */
  async resumeLatest(): Promise<number> {
    return (await this.resumeFromCheckpoint()).step;
  }

  /**
   * Continues the run from `choice` (default: chooseCheckpoint(runDir)): the newest checkpoint
   * whose digests verify. Newer ones that do not verify are moved to checkpoints/set-aside/ and
   * named in the result; when checkpoints exist but none verifies, it fails naming each and why.
   * log.jsonl is cut back to the checkpoint's step (the cut records go to log.superseded.jsonl)
   * so the redone steps count once, and a "resume" record says what happened.
   */
  async resumeFromCheckpoint(choice?: CheckpointChoice, fields: object = {}): Promise<ResumeResult> {
    if (!this.opts.runDir) throw new Error("this trainer has no run directory; pass runDir to resume");
    const runDir = this.opts.runDir;
    choice ??= chooseCheckpoint(runDir);
    const chosen = choice.chosen;
    if (!chosen) {
      if (choice.skipped.length === 0)
        throw new Error(`${runDir} has no checkpoint to resume from (${join(runDir, CHECKPOINTS_DIR)} holds no step-NNNNNN folder)`);
      throw new Error(
        `no checkpoint in ${join(runDir, CHECKPOINTS_DIR)} verifies, so the run cannot resume (nothing was changed):\n  ${choice.skipped.map((s) => `${s.checkpoint}: ${s.reason}`).join("\n  ")}`,
      );
    }
    // Load first: if the policy refuses, nothing on disk has changed yet.
    await this.restoreFrom(chosen.dir, chosen.state);
    this.requireRunDir();
    const newer = listCheckpointFolders(runDir).filter((f) => f.step > chosen.step);
    const movedTo = setCheckpointsAside(runDir, newer);
    const skipped = choice.skipped.map((s) => {
      const i = newer.findIndex((f) => f.name === s.checkpoint);
      return i >= 0 ? { ...s, moved_to: movedTo[i] } : s;
    });
    const logPath = join(runDir, LOG_FILE);
    const before = readLog(logPath).records;
    const priorWall = wallSecondsSoFar(before);
    const cut = cutLogBack(runDir, chosen.step);
    this.priorWallS = priorWall;
    this.firstEval = (cut.kept.find((r) => r.type === "eval" && r.step === 0) as EvalRecord | undefined) ?? this.firstEval;
    const lastEval = [...cut.kept].reverse().find((r) => r.type === "eval") as EvalRecord | undefined;
    this.lastEval = lastEval?.step === chosen.step ? lastEval : undefined;
    const lastStep = [...cut.kept].reverse().find((r) => r.type === "step" && r.step === chosen.step) as StepRecord | undefined;
    if (lastStep) this.lastRecord = lastStep;
    const pointer = join(runDir, CHECKPOINTS_DIR, LATEST_FILE);
    inRunDir(runDir, pointer, "write", () => writeAtomic(pointer, JSON.stringify({ checkpoint: chosen.name, step: chosen.step }) + "\n"));
    this.lastCheckpoint = { step: chosen.step, dir: chosen.dir };
    this.append({
      type: "resume",
      step: chosen.step,
      from_checkpoint: chosen.dir,
      skipped,
      notes: choice.notes,
      superseded_records: cut.removed.length,
      ...(cut.partialLastLine !== undefined ? { dropped_partial_line: cut.partialLastLine.slice(0, 200) } : {}),
      time: new Date().toISOString(),
      segment_start: new Date(this.segmentStartMs).toISOString(),
      prior_wall_s: priorWall,
      ...fields,
    });
    return { step: chosen.step, checkpoint: chosen.dir, skipped, notes: choice.notes, supersededRecords: cut.removed.length, config: chosen.state.config };
  }

  /** Loads one checkpoint folder (its digests checked again) without touching the log: for tools and tests. */
  async resumeFrom(dir: string): Promise<number> {
    const state = verifyCheckpoint(dir);
    await this.restoreFrom(dir, state);
    this.lastCheckpoint = { step: state.step, dir };
    return state.step;
  }

  private async restoreFrom(dir: string, state: OrchestratorCheckpoint): Promise<void> {
    const loaded = await this.ports.policy.loadCheckpoint(join(dir, state.policy.dir));
    if (loaded.weightsDigest !== state.policy.weights_digest) {
      throw new Error(`policy loaded weights with digest ${loaded.weightsDigest}; checkpoint ${dir} recorded ${state.policy.weights_digest}`);
    }
    this.ports.data.seek(state.data_cursor as C);
    this.rng = Rng.fromState(state.rng_state);
    this.step = state.step;
    this.lastJudgeVersion = state.judge_version;
    this.lastEval = undefined;
  }

  private samplesFrom(batch: MaskedBatchLike, completions: Int32Array, rewards: Float32Array, count: number): SampleView[] {
    const decode = this.opts.decode!;
    const T = batch.seqLen,
      k = this.config.group_size;
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
    if (!this.opts.runDir) return;
    const runDir = this.requireRunDir();
    const path = join(runDir, LOG_FILE);
    inRunDir(runDir, path, "append to", () => appendFileSync(path, JSON.stringify(record) + "\n"));
  }

  /** The run directory, created (and checked writable) before the first write to it. */
  private requireRunDir(): string {
    if (!this.opts.runDir) throw new Error("this trainer has no run directory; pass runDir to checkpoint or resume");
    if (!this.runDirReady) {
      ensureRunDir(this.opts.runDir);
      this.runDirReady = true;
    }
    return this.opts.runDir;
  }
}

/** A step drawn, sampled and sent to the judges and the reference, not yet updated. */
interface Rollout {
  /** The data cursor and generator state before it was drawn (what a checkpoint taken now records). */
  before: { cursor: unknown; rng: RngState };
  batch: MaskedBatchLike;
  sampled: SampleResult;
  judged: Promise<Timed<JudgeScores>>;
  reference: Promise<Timed<Float32Array>>;
  dataMs: number;
  sampleMs: number;
}

interface Timed<T> {
  value: T;
  /** The call's duration and when it ended (performance.now()). */
  ms: number;
  end: number;
}

/** Runs a role's call with its busy time on `meter`. */
async function timedCall<T>(meter: BusyMeter, call: () => Promise<T>): Promise<Timed<T>> {
  const start = performance.now();
  meter.begin(start);
  try {
    const value = await call();
    const end = performance.now();
    return { value, ms: end - start, end };
  } finally {
    meter.end(performance.now());
  }
}

/** Time with at least one call in flight, accumulated between take()s. */
class BusyMeter {
  private inflight = 0;
  private since = 0;
  private busy = 0;
  begin(now: number): void {
    if (this.inflight++ === 0) this.since = now;
  }
  end(now: number): void {
    if (--this.inflight === 0) this.busy += now - this.since;
  }
  /** Busy milliseconds since the last take (or `from`), calls still in flight counted up to now. */
  take(now: number, from: number): number {
    let busy = this.busy;
    if (this.inflight > 0) {
      busy += now - Math.max(this.since, from);
      this.since = now;
    }
    this.busy = 0;
    return busy;
  }
}

/** Each role's busy time over a step's window: the step record's idle_fraction. */
class RoleMeters {
  readonly policy = new BusyMeter();
  readonly reference = new BusyMeter();
  readonly judge = new BusyMeter();
  private windowStart = performance.now();

  /** A step's window begins (after evaluations and checkpoints between steps); calls that ended before it are not counted. */
  start(): void {
    const now = performance.now();
    for (const m of [this.policy, this.reference, this.judge]) m.take(now, now);
    this.windowStart = now;
  }

  take(): { wallMs: number; idle: IdleFractions } {
    const now = performance.now();
    const wallMs = now - this.windowStart;
    const idle = (m: BusyMeter) => (wallMs > 0 ? Math.min(1, Math.max(0, 1 - m.take(now, this.windowStart) / wallMs)) : 0);
    const out = { wallMs, idle: { policy: idle(this.policy), reference: idle(this.reference), judge: idle(this.judge) } };
    this.windowStart = now;
    return out;
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

/** A record's judge_rewards and judge_versions from each named judge's mean and version; nothing when the judge port gives no breakdown. */
function judgeBreakdown(judges: Array<{ name: string; mean: number; version: string }> | undefined): Pick<StepRecord, "judge_rewards" | "judge_versions"> {
  if (!judges) return {};
  return {
    judge_rewards: Object.fromEntries(judges.map((j) => [j.name, j.mean])),
    judge_versions: Object.fromEntries(judges.map((j) => [j.name, j.version])),
  };
}

/** Folds one batch's mean (of `count` sequences) into a running mean over batches, and the versions seen (distinct, joined by "+" as judge_version's are). */
function meanOf(
  sofar: { mean: number; sequences: number; version: string } | undefined,
  batch: { mean: number; version: string },
  count: number,
): { mean: number; sequences: number; version: string } {
  if (!sofar) return { mean: batch.mean, sequences: count, version: batch.version };
  const sequences = sofar.sequences + count;
  const version = sofar.version === batch.version || sofar.version.endsWith(`+${batch.version}`) ? sofar.version : `${sofar.version}+${batch.version}`;
  return { mean: (sofar.mean * sofar.sequences + batch.mean * count) / sequences, sequences, version };
}
