// The policy engine (docs/design.md, "The roles"): the trainable generator, its AdamW state and version counter.
// Sample draws k completions per input from ONE forward pass; Update applies one GRPO step exactly
// once (a retried step is answered from memory). Everything is validated before state changes,
// and on CPU/wasm the same checkpoint plus the same updates give bit-identical weights.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { MaskedTransformer, maskedLogProbs, sampleFillIns } from "@grpomesh/model";
import {
  cosineLearningRate,
  expectedTensorShapes,
  loadCheckpoint as readCheckpointFolder,
  loadConfig,
  optimizerStateFromSafeTensors,
  optimizerStateToSafeTensors,
  clipScale,
  globalNorm,
  saveCheckpoint as writeCheckpointFolder,
  specialTokenIds,
  weightsDigest,
  type AdamWState,
  type ModelConfig,
  type Weights,
} from "@grpomesh/model/format";
import type { LossInputs, LossOptions, LossValues } from "@grpomesh/grpo/loss";
import { TRAIN_PARAM_SETTINGS } from "@grpomesh/grpo/settings";
import { importanceWeights, weightAdvantages } from "@grpomesh/grpo/importance";
import { SYNCHRONOUS_WEIGHTS } from "@grpomesh/loop";
import type { BatchShape, PolicyPort, PolicyState, SampleParams, SampleResult, TrainParams, UpdateMetrics, UpdatePayload, UpdateResult } from "@grpomesh/loop";
import { accumulateGradients } from "./backends/accumulate.ts";
import { createTrainingBackend, type EngineSelection } from "./backends/choose.ts";
import { TfjsBackend } from "./backends/tfjs.ts";
import type { EngineChoice, TrainingBackend } from "./backends/types.ts";
import { failedPrecondition, invalidArgument, notFound, requireGenerator, rethrowAs } from "./errors.ts";
import { completionLogProbsFrom } from "./log-probs.ts";
import { POLICY_STATE_FILE, formatPolicyState, readPolicyState, type OptimizerSettings, type RecordedUpdate } from "./policy-state.ts";
import { SerialQueue } from "./serial.ts";
import type { ModelInfo } from "./model-info.ts";
import {
  checkIds,
  checkSampleParams,
  checkShape,
  checkUpdatePayload,
  checkBehaviourVersion,
  resolveLimits,
  type CheckedUpdate,
  type EngineLimits,
  type ModelFacts,
} from "./validate.ts";
import { configDifference } from "./vocab.ts";

export interface PolicyEngineOptions {
  limits?: Partial<EngineLimits>;
  /** How many recent update results are kept (and checkpointed) to answer retries. Default 64. */
  replayWindow?: number;
}

export interface PolicyInfo extends ModelInfo {
  policyVersion: number;
  lastStep: number;
}

/** Loss values and gradients of one Update's first epoch, without applying anything. */
export interface GradientResult {
  values: LossValues;
  /** Global L2 norm of the gradients (before any clipping). */
  gradNorm: number;
  /** Gradient per weight, keyed by docs/model-format.md names. */
  grads: Map<string, Float32Array>;
}

const DEFAULT_REPLAY_WINDOW = 64;

export class PolicyEngine implements PolicyPort {
  /** What computes: tfjs or onnxruntime (see backends/). */
  readonly backend: TrainingBackend;
  readonly config: ModelConfig;
  readonly limits: EngineLimits;
  /** Why this engine was chosen (set by fromCheckpoint; "given" for a backend passed in). */
  readonly selection: EngineSelection;
  private readonly facts: ModelFacts;
  private readonly banned: number[];
  private readonly replayWindow: number;
  private readonly queue = new SerialQueue();
  /** AdamW settings of the last update; null until one ran (or a checkpoint with moments loaded). */
  private optimizerSettings: OptimizerSettings | null = null;
  private version = 0;
  private last = 0;
  /** Recorded results by step, oldest first. */
  private recent = new Map<number, RecordedUpdate>();
  /** Bumped whenever the weights change, to know when the cached digest is stale. */
  private generation = 0;
  private digestCache: { generation: number; digest: string } | null = null;
  private disposed = false;

  /**
   * Wraps a model (tfjs) or a training backend as a fresh policy: version 0, no step applied,
   * optimizer created at the first update.
   */
  constructor(model: MaskedTransformer | TrainingBackend, options: PolicyEngineOptions & { config?: ModelConfig; selection?: EngineSelection } = {}) {
    const config = model instanceof MaskedTransformer ? model.config : options.config;
    if (!config) throw new Error("PolicyEngine: a backend needs its model config (options.config)");
    requireGenerator(config, "policy");
    this.backend = model instanceof MaskedTransformer ? new TfjsBackend(model) : model;
    this.config = config;
    this.selection = options.selection ?? { engine: this.backend.engine, reason: "given" };
    this.limits = resolveLimits(options.limits);
    this.replayWindow = options.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    if (!Number.isSafeInteger(this.replayWindow) || this.replayWindow < 1) throw new Error(`replayWindow is ${this.replayWindow}; expected a positive integer`);
    this.facts = {
      vocabSize: this.config.vocab_size,
      seqLen: this.config.seq_len,
      maskTokenId: this.config.mask_token_id,
      padTokenId: this.config.pad_token_id,
    };
    this.banned = specialTokenIds(this.config);
  }

  /**
   * A policy from a checkpoint folder: a pretrained generator (config.json + model.safetensors) or
   * a policy checkpoint written by saveCheckpoint (then version, last step, optimizer and recorded
   * updates are restored too). `engine` picks what computes ("auto": the fastest installed);
   * `backend` is the tfjs backend when that engine is tfjs.
   */
  static async fromCheckpoint(
    dir: string,
    options: PolicyEngineOptions & { backend?: string; engine?: EngineChoice; executionProvider?: string; threads?: number; spinning?: boolean } = {},
  ): Promise<PolicyEngine> {
    requireFolder(dir);
    let config: ModelConfig;
    try {
      config = loadConfig(dir);
    } catch (err) {
      rethrowAs(err, failedPrecondition, "cannot load policy checkpoint: ");
    }
    requireGenerator(config, "policy"); // before a backend (maybe a worker) starts for nothing
    const { backend, selection } = await createTrainingBackend(config, {
      engine: options.engine,
      executionProvider: options.executionProvider,
      tfjsBackend: options.backend,
      threads: options.threads,
      spinning: options.spinning,
    });
    const engine = new PolicyEngine(backend, { ...options, config, selection });
    try {
      await engine.loadNow(dir);
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  // -------------------------------------------------------------------------------------------
  // Sampling

  async sample(inputs: Int32Array, shape: BatchShape, params: SampleParams): Promise<SampleResult> {
    return this.queue.run(async () => {
      this.checkAlive();
      checkShape(shape, this.facts, this.limits);
      checkSampleParams(params, shape.batch, this.limits);
      checkIds("inputs", inputs, shape.batch * shape.seqLen, this.facts.vocabSize, `[B, T] = [${shape.batch}, ${shape.seqLen}]`);
      const policyVersion = this.version;
      const logits = await this.backend.logits(inputs, shape.batch, shape.seqLen);
      const out = await sampleFillIns(logits, inputs, {
        bannedTokenIds: this.banned,
        batch: shape.batch,
        seqLen: shape.seqLen,
        maskTokenId: this.facts.maskTokenId,
        groupSize: params.groupSize,
        temperature: params.temperature,
        topP: params.topP,
        seed: params.seed,
      });
      return { completions: out.completions, logProbs: out.logProbs, policyVersion };
    });
  }

  /** [B, k] log π(completion | input) at τ under the current weights (Σ over masked positions). */
  async completionLogProbs(inputs: Int32Array, completions: Int32Array, shape: BatchShape & { groupSize: number }, temperature: number): Promise<Float32Array> {
    return this.queue.run(async () => {
      this.checkAlive();
      checkShape(shape, this.facts, this.limits);
      const { batch: B, seqLen: T, groupSize: k } = shape;
      checkIds("inputs", inputs, B * T, this.facts.vocabSize, `[B, T] = [${B}, ${T}]`);
      checkIds("completions", completions, B * k * T, this.facts.vocabSize, `[B, k, T] = [${B}, ${k}, ${T}]`);
      if (!(Number.isFinite(temperature) && temperature > 0)) throw invalidArgument(`temperature is ${temperature}; expected a finite number > 0`);
      return this.completionLogProbsNow(inputs, completions, shape, temperature);
    });
  }

  /** completionLogProbs on checked arguments, inside the queue. */
  private async completionLogProbsNow(
    inputs: Int32Array,
    completions: Int32Array,
    shape: BatchShape & { groupSize: number },
    temperature: number,
  ): Promise<Float32Array> {
    const { batch: B, seqLen: T } = shape;
    const logits = await this.backend.logits(inputs, B, T);
    const logp = await maskedLogProbs(logits, inputs, { batch: B, seqLen: T, maskTokenId: this.facts.maskTokenId, temperature, bannedTokenIds: this.banned });
    return completionLogProbsFrom(logp, inputs, completions, { ...shape, vocabSize: this.facts.vocabSize, maskTokenId: this.facts.maskTokenId });
  }

  // -------------------------------------------------------------------------------------------
  // Updates

  /**
   * Applies GRPO step `payload.step` exactly once. A step already applied whose result is still
   * recorded is answered from memory (`replayed: true`); an older one or a gap is refused
   * (FAILED_PRECONDITION) without touching any state.
   */
  async update(payload: UpdatePayload): Promise<UpdateResult> {
    return this.queue.run(() => {
      this.checkAlive();
      return this.updateNow(payload);
    });
  }

  /** Loss values and gradients the Update would use (its first epoch), with no state change. */
  async gradients(payload: UpdatePayload): Promise<GradientResult> {
    return this.queue.run(async () => {
      this.checkAlive();
      const checked = checkUpdatePayload(payload, this.facts, this.limits);
      const correction = await this.offPolicyCorrection(payload, checked);
      const { grads, values } = await this.accumulate(payload, checked, correction, false);
      return { values, gradNorm: globalNorm(grads.values()), grads };
    });
  }

  private async updateNow(p: UpdatePayload): Promise<UpdateResult> {
    const step = p?.step;
    if (typeof step !== "number" || !Number.isSafeInteger(step) || step < 1) {
      throw invalidArgument(`update step is ${JSON.stringify(step)}; expected the GRPO step number, an integer ≥ 1`);
    }
    if (step <= this.last) return this.replay(p);
    if (step > this.last + 1) {
      throw failedPrecondition(
        `policy has applied steps up to ${this.last}; Update for step ${step} would skip step ${this.last + 1}. ` +
          `Send step ${this.last + 1} next, or load the checkpoint the orchestrator resumed from.`,
      );
    }
    const checked = checkUpdatePayload(p, this.facts, this.limits);
    const started = performance.now();
    // Before any state changes: a stale step's importance weights (a forward on these weights).
    const correction = await this.offPolicyCorrection(p, checked);
    const params = p.params;
    const learningRate = cosineLearningRate(step - 1, {
      lr: params.learningRate,
      warmupSteps: params.warmupSteps,
      maxSteps: params.maxSteps,
      minLrRatio: params.minLrRatio,
    });
    const settings: OptimizerSettings = { beta1: params.beta1, beta2: params.beta2, eps: params.eps, weightDecay: params.weightDecay };
    // With several epochs a later one could still fail (non-finite loss): keep what to restore.
    const snapshot =
      params.ppoEpochs > 1
        ? { weights: await this.backend.getWeights(), optimizer: await this.backend.exportOptimizerState(), settings: this.optimizerSettings }
        : null;
    const epochValues: LossValues[] = [];
    const gradNorms: number[] = [];
    try {
      for (let epoch = 1; epoch <= params.ppoEpochs; epoch++) {
        const { grads, values } = await this.accumulate(p, checked, correction, epoch > 1);
        if (!Number.isFinite(values.loss)) {
          throw failedPrecondition(
            `step ${step}, epoch ${epoch}: the GRPO loss is ${values.loss}; no update was applied. The weights may have diverged: lower learning_rate or load an earlier checkpoint.`,
          );
        }
        const norm = globalNorm(grads.values());
        if (!Number.isFinite(norm)) {
          throw failedPrecondition(
            `step ${step}, epoch ${epoch}: the gradient norm is ${norm}; no update was applied. Lower learning_rate or load an earlier checkpoint.`,
          );
        }
        await this.backend.applyAdamW(grads, { lr: learningRate, ...settings, gradScale: clipScale(norm, params.gradClip) });
        this.optimizerSettings = settings;
        this.generation++;
        epochValues.push(values);
        gradNorms.push(norm);
      }
    } catch (err) {
      if (snapshot && epochValues.length > 0) {
        await this.backend.setWeights(snapshot.weights);
        await this.backend.importOptimizerState(snapshot.optimizer);
        this.optimizerSettings = snapshot.settings;
        this.generation++;
      }
      throw err;
    }

    // One record per step: with several PPO epochs the values are means over the epochs' steps,
    // except clip_frac, averaged over the epochs that clip (epoch 1 has ratio 1 and never does).
    const n = epochValues.length;
    const mean = (key: keyof LossValues) => epochValues.reduce((s, v) => s + v[key], 0) / n;
    const clipping = epochValues.slice(1);
    let maskedTokens = 0;
    for (const m of checked.maskedCounts) maskedTokens += m;
    const metrics: UpdateMetrics = {
      loss: mean("loss"),
      pgLoss: mean("pgLoss"),
      klPenalty: mean("klPenalty"),
      meanKl: mean("meanKl"),
      meanLogProb: mean("meanLogProb"),
      clipFrac: clipping.length ? clipping.reduce((s, v) => s + v.clipFrac, 0) / clipping.length : 0,
      gradNorm: gradNorms.reduce((s, g) => s + g, 0) / n,
      learningRate,
      updateMs: performance.now() - started,
      tokens: maskedTokens * p.groupSize, // sampled tokens the loss was computed over (k · Σ|M_i|)
      ...correction.metrics,
    };
    this.version += 1;
    this.last = step;
    this.recent.set(step, { step, policyVersion: this.version, metrics, payloadSha256: updateDigest(p) });
    for (const old of this.recent.keys()) {
      if (this.recent.size <= this.replayWindow) break;
      this.recent.delete(old);
    }
    return { step, policyVersion: this.version, metrics: { ...metrics }, replayed: false };
  }

  private replay(p: UpdatePayload): UpdateResult {
    const recorded = this.recent.get(p.step);
    if (!recorded) {
      const steps = [...this.recent.keys()];
      const window = steps.length ? `steps ${steps[0]}–${steps[steps.length - 1]}` : "no steps";
      throw failedPrecondition(
        `policy has applied steps up to ${this.last}; Update for step ${p.step} is older than the recorded results (${window}) and cannot be answered again. ` +
          `To train from step ${p.step} again, load a checkpoint taken before it.`,
      );
    }
    const digest = updateDigest(p);
    if (digest !== recorded.payloadSha256) {
      throw failedPrecondition(
        `step ${p.step} was already applied with a different request (sha256 ${recorded.payloadSha256.slice(0, 12)}…, this one ${digest.slice(0, 12)}…); ` +
          `a retry must resend the same request. If the orchestrator restarted, load the policy checkpoint it resumed from.`,
      );
    }
    return { step: recorded.step, policyVersion: recorded.policyVersion, metrics: { ...recorded.metrics }, replayed: true };
  }

  /**
   * Σ over micro-batches of the GRPO loss gradients. Every micro-batch divides by the whole batch's
   * B·k, so the sum equals the whole batch's gradient (libs/grpo's sampleCount). `withOld` turns on
   * PPO clipping against the sampling-time log-probs (epochs after the first).
   */
  private async accumulate(
    p: UpdatePayload,
    checked: CheckedUpdate,
    correction: OffPolicyCorrection,
    withOld: boolean,
  ): Promise<{ grads: Map<string, Float32Array>; values: LossValues }> {
    const { batch: B, seqLen: T, groupSize: k, params } = p;
    const V = this.facts.vocabSize;
    const old = withOld ? correction.oldLogProbs() : undefined;
    const options: LossOptions = {
      klBeta: params.klBeta,
      klEstimator: params.klEstimator,
      tokenReduction: params.tokenReduction,
      clipEps: params.clipEps,
      sampleCount: B * k,
    };
    const inputs: LossInputs = {
      batchSize: B,
      groupSize: k,
      seqLen: T,
      vocabSize: V,
      completions: p.completions,
      mask: checked.mask,
      advantages: correction.advantages,
      refLogProbs: checked.hasRef ? p.refLogProbs : undefined,
      oldLogProbs: old,
    };
    return accumulateGradients(this.backend, p.inputs, inputs, options, params.temperature, params.microBatchSize);
  }

  /**
   * What a step's sampling policy asks of the loss (libs/grpo's importance.ts). Synchronous (the
   * completions came from these weights): the advantages as sent, and PPO epochs clip against the
   * sampling-time log-probs. Stale by s ≥ 1 versions: π_prox is computed on these weights (one
   * forward), each advantage is weighted by min(π_prox/π_behaviour, cap), and PPO epochs clip
   * against π_prox (decoupled PPO).
   */
  private async offPolicyCorrection(p: UpdatePayload, checked: CheckedUpdate): Promise<OffPolicyCorrection> {
    const staleness = checkBehaviourVersion(p, this.version, checked);
    if (staleness === 0) {
      return { metrics: SYNCHRONOUS_WEIGHTS, advantages: p.advantages, oldLogProbs: () => reduceLogProbs(p.oldLogProbs, p, checked) };
    }
    const prox = reduceLogProbs(
      await this.completionLogProbsNow(p.inputs, p.completions, { batch: p.batch, seqLen: p.seqLen, groupSize: p.groupSize }, p.params.temperature),
      p,
      checked,
    );
    const w = importanceWeights(prox, reduceLogProbs(p.oldLogProbs, p, checked), p.params.importanceWeightCap);
    return {
      metrics: { staleness, importanceWeightMean: w.mean, importanceWeightMin: w.min, importanceWeightMax: w.max, importanceWeightCappedFrac: w.cappedFrac },
      advantages: weightAdvantages(p.advantages, w.weights),
      oldLogProbs: () => prox,
    };
  }

  // -------------------------------------------------------------------------------------------
  // State and checkpoints

  /** Updates applied to the weights now held (cheap; for gauges). */
  get policyVersion(): number {
    return this.version;
  }

  /** The last GRPO step applied (0 before any). */
  get lastStep(): number {
    return this.last;
  }

  async state(): Promise<PolicyState> {
    return this.queue.run(async () => {
      this.checkAlive();
      return { policyVersion: this.version, lastStep: this.last, weightsDigest: await this.currentDigest() };
    });
  }

  async info(): Promise<PolicyInfo> {
    return this.queue.run(async () => {
      this.checkAlive();
      return {
        config: this.config,
        backend: this.backend.description,
        engineReason: this.selection.reason,
        placement: this.backend.placement,
        parameterCount: this.backend.parameterCount(),
        policyVersion: this.version,
        lastStep: this.last,
        weightsDigest: await this.currentDigest(),
      };
    });
  }

  /**
   * Writes config.json, model.safetensors, optimizer.safetensors (once an update has run) and
   * policy-state.json into `dir`, atomically (the folder is built beside it and renamed in).
   * Either engine reads what the other wrote.
   */
  async saveCheckpoint(dir: string): Promise<PolicyState & { files: string[] }> {
    return this.queue.run(async () => {
      this.checkAlive();
      if (typeof dir !== "string" || dir === "") throw invalidArgument(`checkpoint folder is ${JSON.stringify(dir)}; expected a path`);
      const shapes = expectedTensorShapes(this.config);
      const weights = await this.backend.getWeights();
      const optimizer = await this.backend.exportOptimizerState();
      const digest = weightsDigest(weights, shapes);
      const state = formatPolicyState({
        policyVersion: this.version,
        lastStep: this.last,
        weightsDigest: digest,
        optimizer: optimizer ? this.optimizerSettings : null,
        recentUpdates: [...this.recent.values()],
      });
      try {
        writeCheckpointFolder(dir, {
          config: this.config,
          weights,
          extraTensors: optimizer ? { optimizer: optimizerStateToSafeTensors(optimizer, shapes) } : {},
          extraFiles: { [POLICY_STATE_FILE]: state },
          metadata: { policy_version: String(this.version), last_step: String(this.last) },
        });
      } catch (err) {
        rethrowAs(err, failedPrecondition, `cannot write policy checkpoint to ${dir}: `);
      }
      this.digestCache = { generation: this.generation, digest };
      return { files: readdirSync(dir).sort(), policyVersion: this.version, lastStep: this.last, weightsDigest: digest };
    });
  }

  /**
   * Replaces weights, optimizer, version, last step and recorded updates with a checkpoint's.
   * The checkpoint must have this policy's architecture and vocabulary; it is read and checked
   * whole before anything changes.
   */
  async loadCheckpoint(dir: string): Promise<PolicyState> {
    return this.queue.run(() => {
      this.checkAlive();
      return this.loadNow(dir);
    });
  }

  private async loadNow(dir: string): Promise<PolicyState> {
    if (typeof dir !== "string" || dir === "") throw invalidArgument(`checkpoint folder is ${JSON.stringify(dir)}; expected a path`);
    requireFolder(dir);
    let ckpt: ReturnType<typeof readCheckpointFolder>;
    try {
      ckpt = readCheckpointFolder(dir);
    } catch (err) {
      rethrowAs(err, failedPrecondition, `cannot load policy checkpoint: `);
    }
    const difference = configDifference(ckpt.config, this.config, { model: `checkpoint ${dir}`, other: "running policy" });
    if (difference) {
      throw failedPrecondition(
        `checkpoint ${dir} does not fit this policy: ${difference}. Load a checkpoint of the same model, or restart the policy with --checkpoint=${dir}`,
      );
    }
    const state = readPolicyState(dir);
    if (state && state.weightsDigest !== ckpt.digest) {
      throw failedPrecondition(
        `${dir}/${POLICY_STATE_FILE} records weights ${state.weightsDigest} but model.safetensors holds ${ckpt.digest}; the folder mixes two checkpoints. Restore it from a good copy.`,
      );
    }
    let optimizer: AdamWState | null = null;
    let settings: OptimizerSettings | null = null;
    const moments = ckpt.extraTensors["optimizer"];
    if (moments) {
      settings = state?.optimizer ?? { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
      try {
        optimizer = optimizerStateFromSafeTensors(moments, expectedTensorShapes(this.config));
      } catch (err) {
        rethrowAs(err, failedPrecondition, `${dir}/optimizer.safetensors: `);
      }
    }
    // Everything checked: commit.
    await this.backend.setWeights(ckpt.weights);
    this.generation++;
    await this.backend.importOptimizerState(optimizer);
    this.optimizerSettings = settings;
    this.version = state?.policyVersion ?? 0;
    this.last = state?.lastStep ?? 0;
    this.recent = new Map((state?.recentUpdates ?? []).map((r) => [r.step, r]));
    this.digestCache = { generation: this.generation, digest: ckpt.digest };
    return { policyVersion: this.version, lastStep: this.last, weightsDigest: ckpt.digest };
  }

  private async currentDigest(): Promise<string> {
    if (this.digestCache?.generation !== this.generation) {
      const generation = this.generation;
      this.digestCache = { generation, digest: weightsDigest(await this.backend.getWeights(), expectedTensorShapes(this.config)) };
    }
    return this.digestCache.digest;
  }

  /** Jobs (sample, update, save, load) queued or running. */
  get pendingJobs(): number {
    return this.queue.pending;
  }

  private checkAlive(): void {
    if (this.disposed) throw failedPrecondition("the policy engine was disposed (the server is shutting down); retry against a running policy");
  }

  /** Stops serving and frees the backend (a worker thread, sessions, or tfjs tensors). */
  async close(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.backend.dispose();
  }

  /** close() without waiting. */
  dispose(): void {
    void this.close().catch(() => {});
  }
}

function requireFolder(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw notFound(`checkpoint folder ${dir} does not exist; expected a folder with config.json and model.safetensors (docs/model-format.md)`);
  }
}

// Every TrainParams field, in proto field order (TRAIN_PARAM_SETTINGS, which the loop checks covers the message): a replay must match them all.
const PARAM_KEYS = Object.keys(TRAIN_PARAM_SETTINGS) as (keyof TrainParams)[];

/** sha256 of an Update request: step, shapes, params and every array's bytes. */
export function updateDigest(p: UpdatePayload): string {
  const hash = createHash("sha256");
  const params = p.params ? PARAM_KEYS.map((k) => p.params[k]) : null;
  // behaviour_version only when sent, so a synchronous request's digest is what it always was
  const behaviour = p.behaviourVersion === undefined ? {} : { behaviourVersion: p.behaviourVersion };
  hash.update(JSON.stringify({ step: p.step, batch: p.batch, seqLen: p.seqLen, groupSize: p.groupSize, params, ...behaviour }));
  for (const a of [p.inputs, p.completions, p.advantages, p.refLogProbs, p.oldLogProbs] as unknown[]) {
    if (ArrayBuffer.isView(a)) {
      hash.update(`\0${a.constructor.name}:${a.byteLength}\0`);
      hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    } else {
      hash.update(`\0${a === undefined ? "none" : JSON.stringify(a)}\0`);
    }
  }
  return hash.digest("hex");
}

/** The loss's view of a step's sampling policy (PolicyEngine.offPolicyCorrection). */
interface OffPolicyCorrection {
  /** The step's staleness and importance-weight statistics, as the Update reports them. */
  metrics: Pick<UpdateMetrics, keyof typeof SYNCHRONOUS_WEIGHTS>;
  /** [B·k] the advantages the loss reads: as sent, or weighted by the importance weights. */
  advantages: Float32Array;
  /** [B·k] the PPO epochs' "old" log-probs, reduced like the tokens. */
  oldLogProbs: () => Float32Array;
}

/** [B·k] sequence log-probs (sums over M_i) as the loss reads them: summed, or averaged over M_i for "mean". */
function reduceLogProbs(sums: Float32Array, p: UpdatePayload, checked: CheckedUpdate): Float32Array {
  if (p.params.tokenReduction === "sum") return sums;
  const k = p.groupSize;
  return Float32Array.from(sums, (x, s) => {
    const m = checked.maskedCounts[Math.floor(s / k)]!;
    return m > 0 ? x / m : 0;
  });
}
