// The policy engine (DESIGN §2–§3): the trainable generator, its AdamW state and version counter.
// Sample draws k completions per input from ONE forward pass; Update applies one GRPO step exactly
// once (a retried step is answered from memory). Everything is validated before state changes,
// and on CPU/wasm the same checkpoint plus the same updates give bit-identical weights.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import * as tf from "@tensorflow/tfjs-core";
import {
  AdamW,
  MaskedTransformer,
  clipGradNorm,
  cosineLearningRate,
  expectedTensorShapes,
  initBackend,
  loadCheckpoint as readCheckpointFolder,
  loadConfig,
  logSoftmaxWithTemperature,
  maskedLogProbs,
  sampleFillIns,
  saveCheckpoint as writeCheckpointFolder,
  specialTokenIds,
  weightsDigest,
  type ModelConfig,
} from "@grpomesh/model";
import { grpoLossAndGrads, sumLossValues, type LossInputs, type LossOptions, type LossValues } from "@grpomesh/grpo";
import type { BatchShape, PolicyPort, PolicyState, SampleParams, SampleResult, TrainParams, UpdateMetrics, UpdatePayload, UpdateResult } from "@grpomesh/loop";
import { failedPrecondition, invalidArgument, notFound, rethrowAs } from "./errors.ts";
import { completionLogProbsFrom } from "./log-probs.ts";
import { POLICY_STATE_FILE, formatPolicyState, readPolicyState, type OptimizerSettings, type RecordedUpdate } from "./policy-state.ts";
import { SerialQueue } from "./serial.ts";
import type { ModelInfo } from "./model-info.ts";
import { checkIds, checkSampleParams, checkShape, checkUpdatePayload, resolveLimits, type CheckedUpdate, type EngineLimits, type ModelFacts } from "./validate.ts";
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
  readonly model: MaskedTransformer;
  readonly config: ModelConfig;
  readonly limits: EngineLimits;
  private readonly facts: ModelFacts;
  private readonly banned: number[];
  private readonly replayWindow: number;
  private readonly varList: tf.Variable[];
  private readonly nameOfVariable = new Map<string, string>();
  private readonly queue = new SerialQueue();
  private optimizer: AdamW | null = null;
  private optimizerSettings: OptimizerSettings | null = null;
  private version = 0;
  private last = 0;
  /** Recorded results by step, oldest first. */
  private recent = new Map<number, RecordedUpdate>();
  /** Bumped whenever the weights change, to know when the cached digest is stale. */
  private generation = 0;
  private digestCache: { generation: number; digest: string } | null = null;
  private disposed = false;

  /** Wraps a model as a fresh policy: version 0, no step applied, optimizer created at the first update. */
  constructor(model: MaskedTransformer, options: PolicyEngineOptions = {}) {
    if (model.config.model_type !== "masked_lm") {
      throw failedPrecondition(`the policy needs a masked_lm generator; this checkpoint is a ${model.config.model_type}`);
    }
    this.model = model;
    this.config = model.config;
    this.limits = resolveLimits(options.limits);
    this.replayWindow = options.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    if (!Number.isSafeInteger(this.replayWindow) || this.replayWindow < 1) throw new Error(`replayWindow is ${this.replayWindow}; expected a positive integer`);
    this.facts = { vocabSize: this.config.vocab_size, seqLen: this.config.seq_len, maskTokenId: this.config.mask_token_id, padTokenId: this.config.pad_token_id };
    this.banned = specialTokenIds(this.config);
    this.varList = [...model.variables.values()];
    for (const [name, variable] of model.variables) this.nameOfVariable.set(variable.name, name);
  }

  /**
   * A policy from a checkpoint folder: a pretrained generator (config.json + model.safetensors) or
   * a policy checkpoint written by saveCheckpoint (then version, last step, optimizer and recorded
   * updates are restored too). Initialises the tfjs backend if nothing has yet.
   */
  static async fromCheckpoint(dir: string, options: PolicyEngineOptions & { backend?: string } = {}): Promise<PolicyEngine> {
    await initBackend(options.backend, { log: false });
    requireFolder(dir);
    let config: ModelConfig;
    try {
      config = loadConfig(dir);
    } catch (err) {
      rethrowAs(err, failedPrecondition, "cannot load policy checkpoint: ");
    }
    const engine = new PolicyEngine(new MaskedTransformer(config), options);
    try {
      engine.loadNow(dir);
    } catch (err) {
      engine.dispose();
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
      const out = await sampleFillIns(this.model, inputs, {
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
      const logp = await maskedLogProbs(this.model, inputs, { batch: B, seqLen: T, maskTokenId: this.facts.maskTokenId, temperature });
      return completionLogProbsFrom(logp, inputs, completions, { ...shape, vocabSize: this.facts.vocabSize, maskTokenId: this.facts.maskTokenId });
    });
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
    return this.queue.run(() => {
      this.checkAlive();
      const checked = checkUpdatePayload(payload, this.facts, this.limits);
      const { grads, values } = this.accumulate(payload, checked, false);
      try {
        const gradNorm = globalNorm(grads);
        const out = new Map<string, Float32Array>();
        for (const [name, g] of grads) out.set(name, g.dataSync() as Float32Array);
        return { values, gradNorm, grads: out };
      } finally {
        tf.dispose([...grads.values()]);
      }
    });
  }

  private updateNow(p: UpdatePayload): UpdateResult {
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
    const params = p.params;
    const learningRate = cosineLearningRate(step - 1, {
      lr: params.learningRate,
      warmupSteps: params.warmupSteps,
      maxSteps: params.maxSteps,
      minLrRatio: params.minLrRatio,
    });
    const optimizer = this.optimizerFor(params);
    // With several epochs a later one could still fail (non-finite loss): keep what to restore.
    const snapshot = params.ppoEpochs > 1 ? { weights: this.model.getWeights(), optimizer: optimizer.exportState() } : null;
    const epochValues: LossValues[] = [];
    const gradNorms: number[] = [];
    try {
      for (let epoch = 1; epoch <= params.ppoEpochs; epoch++) {
        const { grads, values } = this.accumulate(p, checked, epoch > 1);
        let toDispose = grads;
        try {
          if (!Number.isFinite(values.loss)) {
            throw failedPrecondition(`step ${step}, epoch ${epoch}: the GRPO loss is ${values.loss}; no update was applied. The weights may have diverged: lower learning_rate or load an earlier checkpoint.`);
          }
          const clipped = clipGradNorm(grads, params.gradClip);
          toDispose = clipped.grads;
          if (!Number.isFinite(clipped.norm)) {
            throw failedPrecondition(`step ${step}, epoch ${epoch}: the gradient norm is ${clipped.norm}; no update was applied. Lower learning_rate or load an earlier checkpoint.`);
          }
          optimizer.apply(clipped.grads, learningRate);
          this.generation++;
          epochValues.push(values);
          gradNorms.push(clipped.norm);
        } finally {
          tf.dispose([...toDispose.values()]);
        }
      }
    } catch (err) {
      if (snapshot && epochValues.length > 0) {
        this.model.setWeights(snapshot.weights);
        optimizer.importState(snapshot.optimizer);
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

  /** AdamW with these settings; rebuilt (keeping its moments and step) when the settings change. */
  private optimizerFor(params: TrainParams): AdamW {
    const settings: OptimizerSettings = { beta1: params.beta1, beta2: params.beta2, eps: params.eps, weightDecay: params.weightDecay };
    const current = this.optimizer;
    const same = this.optimizerSettings && (Object.keys(settings) as Array<keyof OptimizerSettings>).every((k) => this.optimizerSettings![k] === settings[k]);
    if (current && same) return current;
    const next = new AdamW(this.model.variables, settings);
    if (current) {
      next.importState(current.exportState());
      current.dispose();
    }
    this.optimizer = next;
    this.optimizerSettings = settings;
    return next;
  }

  /**
   * Σ over micro-batches of the GRPO loss gradients. Every micro-batch divides by the whole batch's
   * B·k, so the sum equals the whole batch's gradient (libs/grpo's sampleCount). `withOld` turns on
   * PPO clipping against the sampling-time log-probs (epochs after the first).
   */
  private accumulate(p: UpdatePayload, checked: CheckedUpdate, withOld: boolean): { grads: Map<string, tf.Tensor>; values: LossValues } {
    const { batch: B, seqLen: T, groupSize: k, params } = p;
    const V = this.facts.vocabSize;
    const micro = params.microBatchSize > 0 ? Math.min(params.microBatchSize, B) : B;
    const old = withOld ? this.reducedOldLogProbs(p, checked) : undefined;
    const options: LossOptions = {
      klBeta: params.klBeta,
      klEstimator: params.klEstimator,
      tokenReduction: params.tokenReduction,
      clipEps: params.clipEps,
      sampleCount: B * k,
    };
    const summed = new Map<string, tf.Tensor>();
    const parts: LossValues[] = [];
    try {
      for (let s = 0; s < B; s += micro) {
        const e = Math.min(B, s + micro);
        const inputs: LossInputs = {
          batchSize: e - s,
          groupSize: k,
          seqLen: T,
          vocabSize: V,
          completions: p.completions.subarray(s * k * T, e * k * T),
          mask: checked.mask.subarray(s * T, e * T),
          advantages: p.advantages.subarray(s * k, e * k),
          refLogProbs: checked.hasRef ? p.refLogProbs.subarray(s * T * V, e * T * V) : undefined,
          oldLogProbs: old?.subarray(s * k, e * k),
        };
        const ids = tf.tensor2d(p.inputs.subarray(s * T, e * T), [e - s, T], "int32");
        let result: { grads: tf.NamedTensorMap; values: LossValues };
        try {
          const computeLogp = () => logSoftmaxWithTemperature(this.model.forward(ids), params.temperature, this.banned) as tf.Tensor3D;
          result = grpoLossAndGrads(computeLogp, inputs, options, this.varList);
        } finally {
          ids.dispose();
        }
        parts.push(result.values);
        for (const [tfName, g] of Object.entries(result.grads)) {
          const name = this.nameOfVariable.get(tfName)!;
          const prev = summed.get(name);
          if (prev) {
            summed.set(name, tf.add(prev, g));
            prev.dispose();
            g.dispose();
          } else {
            summed.set(name, g);
          }
        }
      }
    } catch (err) {
      tf.dispose([...summed.values()]);
      throw err;
    }
    return { grads: summed, values: sumLossValues(parts) };
  }

  /** Sampling-time log π as the loss reads it: summed, or averaged over M_i for "mean". */
  private reducedOldLogProbs(p: UpdatePayload, checked: CheckedUpdate): Float32Array {
    if (p.params.tokenReduction === "sum") return p.oldLogProbs;
    const k = p.groupSize;
    return Float32Array.from(p.oldLogProbs, (x, s) => {
      const m = checked.maskedCounts[Math.floor(s / k)]!;
      return m > 0 ? x / m : 0;
    });
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
    this.checkAlive();
    return { policyVersion: this.version, lastStep: this.last, weightsDigest: this.currentDigest() };
  }

  info(): PolicyInfo {
    this.checkAlive();
    return {
      config: this.config,
      backend: tf.getBackend(),
      parameterCount: this.model.parameterCount(),
      policyVersion: this.version,
      lastStep: this.last,
      weightsDigest: this.currentDigest(),
    };
  }

  /**
   * Writes config.json, model.safetensors, optimizer.safetensors (once an update has run) and
   * policy-state.json into `dir`, atomically (the folder is built beside it and renamed in).
   */
  async saveCheckpoint(dir: string): Promise<PolicyState & { files: string[] }> {
    return this.queue.run(() => {
      this.checkAlive();
      if (typeof dir !== "string" || dir === "") throw invalidArgument(`checkpoint folder is ${JSON.stringify(dir)}; expected a path`);
      const weights = this.model.getWeights();
      const digest = weightsDigest(weights, expectedTensorShapes(this.config));
      const state = formatPolicyState({
        policyVersion: this.version,
        lastStep: this.last,
        weightsDigest: digest,
        optimizer: this.optimizer ? this.optimizerSettings : null,
        recentUpdates: [...this.recent.values()],
      });
      try {
        writeCheckpointFolder(dir, {
          config: this.config,
          weights,
          extraTensors: this.optimizer ? { optimizer: this.optimizer.toSafeTensors() } : {},
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

  private loadNow(dir: string): PolicyState {
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
      throw failedPrecondition(`checkpoint ${dir} does not fit this policy: ${difference}. Load a checkpoint of the same model, or restart the policy with --checkpoint=${dir}`);
    }
    const state = readPolicyState(dir);
    if (state && state.weightsDigest !== ckpt.digest) {
      throw failedPrecondition(`${dir}/${POLICY_STATE_FILE} records weights ${state.weightsDigest} but model.safetensors holds ${ckpt.digest}; the folder mixes two checkpoints. Restore it from a good copy.`);
    }
    let optimizer: AdamW | null = null;
    let settings: OptimizerSettings | null = null;
    const moments = ckpt.extraTensors["optimizer"];
    if (moments) {
      settings = state?.optimizer ?? { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
      optimizer = new AdamW(this.model.variables, settings);
      try {
        optimizer.loadSafeTensors(moments);
      } catch (err) {
        optimizer.dispose();
        rethrowAs(err, failedPrecondition, `${dir}/optimizer.safetensors: `);
      }
    }
    // Everything checked: commit.
    this.model.setWeights(ckpt.weights);
    this.generation++;
    this.optimizer?.dispose();
    this.optimizer = optimizer;
    this.optimizerSettings = settings;
    this.version = state?.policyVersion ?? 0;
    this.last = state?.lastStep ?? 0;
    this.recent = new Map((state?.recentUpdates ?? []).map((r) => [r.step, r]));
    this.digestCache = { generation: this.generation, digest: ckpt.digest };
    return { policyVersion: this.version, lastStep: this.last, weightsDigest: ckpt.digest };
  }

  private currentDigest(): string {
    if (this.digestCache?.generation !== this.generation) {
      this.digestCache = { generation: this.generation, digest: weightsDigest(this.model.getWeights(), expectedTensorShapes(this.config)) };
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

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer?.dispose();
    this.optimizer = null;
    this.model.dispose();
  }
}

function requireFolder(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw notFound(`checkpoint folder ${dir} does not exist; expected a folder with config.json and model.safetensors (docs/model-format.md)`);
  }
}

function globalNorm(grads: Map<string, tf.Tensor>): number {
  if (grads.size === 0) return 0;
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))));
  try {
    return norm.dataSync()[0]!;
  } finally {
    norm.dispose();
  }
}

const PARAM_KEYS: ReadonlyArray<keyof TrainParams> = [
  "learningRate", "warmupSteps", "maxSteps", "minLrRatio", "weightDecay", "beta1", "beta2", "eps", "gradClip",
  "microBatchSize", "klBeta", "klEstimator", "tokenReduction", "ppoEpochs", "clipEps", "temperature",
];

/** sha256 of an Update request: step, shapes, params and every array's bytes. */
export function updateDigest(p: UpdatePayload): string {
  const hash = createHash("sha256");
  const params = p.params ? PARAM_KEYS.map((k) => p.params[k]) : null;
  hash.update(JSON.stringify({ step: p.step, batch: p.batch, seqLen: p.seqLen, groupSize: p.groupSize, params }));
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
