// The policy's weights, AdamW state and onnxruntime sessions: forward, GRPO loss + gradients, and
// the AdamW update, each one ONNX graph per batch shape (built by train-graph.ts and
// @grpomesh/onnx-export/export), cached. No tfjs is loaded: only @grpomesh/model/format and the tfjs-free
// entries of @grpomesh/grpo.
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import {
  adamwScalars,
  bannedMasks,
  checkOptimizerState,
  checkWeightsAgainstConfig,
  expectedTensorShapes,
  isDecayed,
  validateConfig,
  ADAMW_SCALARS,
  type AdamWSettings,
  type AdamWState,
  type ModelConfig,
  type Weights,
} from "@grpomesh/model/format";
import type { EmbeddingMode } from "@grpomesh/model/forward";
import { LOSS_VALUE_KEYS, resolveLossInputs, sumLossValues, type LossInputs, type LossOptions, type LossValues } from "@grpomesh/grpo/loss";
import { lossData, lossDataShapes, lossSpec, readLossParts, type LossParts } from "@grpomesh/grpo/loss-graph";
import { sizeOf } from "@grpomesh/autodiff";
import { LOGITS_OUTPUT, TOKENS_INPUT, buildForwardGraph } from "@grpomesh/onnx-export/export";
import { graphPlacement, type Placement } from "@grpomesh/onnx-export/placement";
import {
  TRAIN_INPUTS,
  adamwNames,
  buildAdamWGraph,
  buildTrainGraph,
  gradOutputName,
  graphLowering,
  type AdamWGroup,
  type TrainGraphSpec,
} from "./train-graph.ts";

export interface OnnxTrainerOptions {
  /** onnxruntime intra-op threads; default os.availableParallelism(). */
  threads?: number;
  /** Default ["cpu"]; GPU nodes may pass ["cuda", "cpu"]. */
  executionProviders?: string[];
  /** Sessions kept per kind (forward / training) before the least recently used is released. Default 3. */
  sessionCacheSize?: number;
  /** Token embedding as OneHot @ table or Gather (see EmbeddingMode); default by provider (graphLowering). */
  embedding?: EmbeddingMode;
  /**
   * "inputs" (default): logits() feeds the weights to one session per shape. "initializers": the
   * weights are baked into the forward session (≈10% faster forward: onnxruntime pre-packs them),
   * which is rebuilt after every weight change (≈0.1 s at 4.8M parameters): for frozen models.
   */
  forwardWeights?: "inputs" | "initializers";
  /**
   * Longest batch·seqLen one session run takes; larger batches run in several (logits
   * concatenated, gradients summed). Smaller runs keep activations in cache, which measured faster
   * (README, "Speed"), and peak memory falls with the run size. Defaults: 1024 for logits(),
   * 2048 for lossAndGrads().
   */
  tokensPerRun?: { forward?: number; train?: number };
  /**
   * onnxruntime's memory pattern (one pre-planned block per run). Default false: on the training
   * graph it nearly doubled peak memory and page-faulted gigabytes per run (README, "Speed").
   */
  memoryPattern?: boolean;
  /**
   * onnxruntime's intra-op threads spin-wait after a run (default true, its default). Turn off
   * where other compute shares the cores between runs (several engines or a judge on one machine).
   */
  spinning?: boolean;
}

export interface LossAndGrads {
  values: LossValues;
  /** d loss / d weight for every parameter, keyed by its checkpoint name. */
  grads: Map<string, Float32Array>;
}

/** A small least-recently-used map of sessions; evicted sessions are released. */
class SessionCache {
  private readonly entries = new Map<string, Promise<ort.InferenceSession>>();
  /** Sessions this cache released (evicted or cleared). */
  released = 0;
  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, create: () => Promise<ort.InferenceSession>): Promise<ort.InferenceSession> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-insert: most recent last
    } else {
      entry = create();
      // a failed build is not cached, so the next call retries (and reports) it
      entry.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    }
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      const [oldKey, old] = this.entries.entries().next().value!;
      this.entries.delete(oldKey);
      void old
        .then((s) => s.release())
        .then(
          () => this.released++,
          () => undefined,
        );
    }
    return entry;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      all.map((p) =>
        p
          .then((s) => s.release())
          .then(
            () => this.released++,
            () => undefined,
          ),
      ),
    );
  }
}

/**
 * Where each parameter lives in one flat float32 buffer: decayed weights first, then the rest, so
 * AdamW runs over two long vectors. Weights, moments and gradients all use this layout.
 */
class ParamLayout {
  readonly offsets = new Map<string, number>();
  readonly size: number;
  readonly decayedSize: number;

  constructor(readonly shapes: ReadonlyMap<string, number[]>) {
    const names = [...shapes.keys()];
    let offset = 0;
    for (const name of [...names.filter(isDecayed), ...names.filter((n) => !isDecayed(n))]) {
      this.offsets.set(name, offset);
      offset += sizeOf(shapes.get(name)!);
    }
    this.size = offset;
    this.decayedSize = names.filter(isDecayed).reduce((n, name) => n + sizeOf(shapes.get(name)!), 0);
  }

  view(flat: Float32Array, name: string): Float32Array {
    const offset = this.offsets.get(name)!;
    return flat.subarray(offset, offset + sizeOf(this.shapes.get(name)!));
  }

  views(flat: Float32Array): Map<string, Float32Array> {
    return new Map([...this.shapes.keys()].map((name) => [name, this.view(flat, name)]));
  }

  group(flat: Float32Array, group: AdamWGroup): Float32Array {
    return group === "decayed" ? flat.subarray(0, this.decayedSize) : flat.subarray(this.decayedSize, this.size);
  }

  /** The flat buffer behind `maps`'s views when they are exactly this layout's views of one buffer. */
  backing(maps: ReadonlyMap<string, Float32Array>): Float32Array | null {
    let buffer: ArrayBufferLike | null = null;
    let base = -1;
    for (const [name, offset] of this.offsets) {
      const data = maps.get(name);
      if (!data) return null;
      buffer ??= data.buffer;
      if (base < 0) base = data.byteOffset - offset * 4;
      if (data.buffer !== buffer || data.byteOffset !== base + offset * 4) return null;
    }
    if (base < 0 || buffer === null) return null;
    return new Float32Array(buffer, base, this.size);
  }

  /** Copies named tensors into a new flat buffer. */
  pack(maps: ReadonlyMap<string, ArrayLike<number>>): Float32Array {
    const flat = new Float32Array(this.size);
    for (const [name, offset] of this.offsets) flat.set(maps.get(name)!, offset);
    return flat;
  }
}

interface Moments {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/**
 * Trains the masked generator with onnxruntime-node. Every public async method runs after the
 * previous one finished (calls queue), so weights never change under a running session.
 */
export class OnnxTrainer {
  readonly config: ModelConfig;
  /** The first execution provider asked for ("cpu" unless opts.executionProviders says otherwise). */
  readonly executionProvider: string;
  private readonly shapes: Map<string, number[]>;
  private readonly layout: ParamLayout;
  /** All weights, flat (ParamLayout); `spare` receives AdamW's output, then the two swap. */
  private flat: Float32Array;
  private spare: Float32Array;
  private weightFeeds: Record<string, ort.Tensor> | null = null;
  private moments: Moments | null = null;
  private spareMoments: Moments | null = null;
  private readonly sessionOptions: ort.InferenceSession.SessionOptions;
  private readonly forwardSessions: SessionCache;
  private readonly trainSessions: SessionCache;
  private adamwSession: Promise<ort.InferenceSession> | null = null;
  private sessionsCreated = 0;
  private readonly embedding: EmbeddingMode;
  private readonly logSoftmax: "fused" | "composed";
  private readonly tokensPerRun: { forward: number; train: number };
  private readonly bakeForwardWeights: boolean;
  private weightsVersion = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(config: ModelConfig, weights: Weights, opts: OnnxTrainerOptions) {
    this.config = validateConfig(config);
    if (config.model_type !== "masked_lm") throw new Error(`OnnxTrainer trains masked_lm generators; this config is a ${config.model_type}`);
    this.shapes = expectedTensorShapes(this.config);
    this.layout = new ParamLayout(this.shapes);
    this.flat = new Float32Array(this.layout.size);
    this.spare = new Float32Array(this.layout.size);
    const providers = opts.executionProviders ?? ["cpu"];
    if (!providers.length) throw new Error('executionProviders is empty; pass e.g. ["cpu"] or ["cuda", "cpu"]');
    this.executionProvider = providers[0]!;
    const threads = opts.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads is ${threads}; expected a positive integer`);
    this.sessionOptions = {
      executionProviders: providers,
      graphOptimizationLevel: "all",
      // errors only: on a GPU provider onnxruntime warns at every session that some nodes run on
      // the CPU; the engine's start line says which (placement())
      logSeverityLevel: 3,
      intraOpNumThreads: threads,
      enableMemPattern: opts.memoryPattern ?? false,
      // Spinning threads keep a core busy after each run: faster back-to-back runs, but they
      // slow whatever else runs next on those cores (another engine, a judge).
      ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: "0" } } } } : {}),
    };
    const cacheSize = opts.sessionCacheSize ?? 3;
    if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new Error(`sessionCacheSize is ${cacheSize}; expected a positive integer`);
    this.forwardSessions = new SessionCache(cacheSize);
    this.trainSessions = new SessionCache(cacheSize);
    const lowering = graphLowering(this.executionProvider);
    this.embedding = opts.embedding ?? lowering.embedding;
    this.logSoftmax = lowering.logSoftmax;
    this.tokensPerRun = { forward: opts.tokensPerRun?.forward ?? 1024, train: opts.tokensPerRun?.train ?? 2048 };
    for (const [kind, n] of Object.entries(this.tokensPerRun)) {
      if (!(n >= 1)) throw new Error(`tokensPerRun.${kind} is ${n}; expected a number ≥ 1 (tokens per session run)`);
    }
    if (opts.forwardWeights !== undefined && opts.forwardWeights !== "inputs" && opts.forwardWeights !== "initializers") {
      throw new Error(`forwardWeights is ${JSON.stringify(opts.forwardWeights)}; expected "inputs" or "initializers"`);
    }
    this.bakeForwardWeights = opts.forwardWeights === "initializers";
    this.setWeights(weights);
  }

  static async create(config: ModelConfig, weights: Weights, opts: OnnxTrainerOptions = {}): Promise<OnnxTrainer> {
    return new OnnxTrainer(config, weights, opts);
  }

  // -------------------------------------------------------------------------------------------
  // Forward and gradients

  /** Logits [B, T, V] (flat) for ids [B·T]. */
  logits(ids: Int32Array, batch: number, seqLen: number): Promise<Float32Array> {
    return this.exclusive(async () => {
      const idsI64 = this.checkedIds(ids, batch, seqLen);
      const V = this.config.vocab_size;
      // Runs of ≤ tokensPerRun.forward tokens (≈1.6× faster than one run at the reference size); the
      // runs write straight into the result, a padded last run through a scratch buffer.
      const { runs, perRun: q } = this.runsFor(batch, seqLen, this.tokensPerRun.forward);
      const weights = this.bakeForwardWeights ? this.layout.views(this.flat) : undefined;
      const key = this.bakeForwardWeights ? `${q}x${seqLen}@${this.weightsVersion}` : `${q}x${seqLen}`;
      const session = await this.forwardSessions.get(key, () =>
        this.createSession(buildForwardGraph(this.config, { batch: q, seqLen, embedding: this.embedding, weights })),
      );
      const weightFeeds = this.bakeForwardWeights ? {} : this.feeds();
      const logits = new Float32Array(batch * seqLen * V);
      const row = seqLen * V;
      for (let r = 0; r < runs; r++) {
        const s = r * q,
          e = Math.min(batch, s + q);
        const full = e - s === q;
        const runIds = full ? idsI64.subarray(s * seqLen, e * seqLen) : new BigInt64Array(q * seqLen);
        if (!full) runIds.set(idsI64.subarray(s * seqLen, e * seqLen)); // padding rows hold id 0; their logits are dropped
        const target = full ? logits.subarray(s * row, e * row) : new Float32Array(q * row);
        await session.run(
          { ...weightFeeds, [TOKENS_INPUT]: new ort.Tensor("int64", runIds, [q, seqLen]) },
          { [LOGITS_OUTPUT]: new ort.Tensor("float32", target, [q, seqLen, V]) },
        );
        if (!full) logits.set(target.subarray(0, (e - s) * row), s * row);
      }
      return logits;
    });
  }

  /**
   * The GRPO loss of libs/grpo (same options and values as grpoLossAndGrads) on the policy's
   * log-softmax(logits/τ) with `banned` ids forced to BANNED_LOGIT, and its gradient for every
   * weight. For gradient accumulation pass options.sampleCount = the whole batch's B·k. The
   * gradients are views of one flat buffer that applyAdamW takes without copying.
   */
  lossAndGrads(ids: Int32Array, inputs: LossInputs, options: LossOptions, temperature: number, banned: readonly number[]): Promise<LossAndGrads> {
    return this.exclusive(async () => {
      const o = resolveLossInputs(inputs, options);
      const { batchSize: B, groupSize: k, seqLen: T, vocabSize: V } = inputs;
      if (V !== this.config.vocab_size) throw new Error(`loss inputs have vocabSize ${V}; this model's vocabulary has ${this.config.vocab_size} tokens`);
      if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`temperature must be a finite number > 0; got ${temperature}`);
      const idsI64 = this.checkedIds(ids, B, T);
      const { keep, add } = bannedMasks(V, banned);
      const spec = lossSpec(inputs, o);
      const d = lossData(inputs, o, spec);
      const completionIds = BigInt64Array.from(d.completionIds, (id) => BigInt(id));

      // Runs of at most tokensPerRun.train tokens (faster: activations stay in cache), near-equal in size
      // so one graph serves them all; a short last run is padded with inputs of weight 0, which
      // add exactly 0 to every value and gradient. Every run divides by the whole sampleCount.
      const { runs, perRun: q } = this.runsFor(B, T, this.tokensPerRun.train);
      const graph: TrainGraphSpec = { ...spec, batch: q, seqLen: T, groupSize: k, embedding: this.embedding, logSoftmax: this.logSoftmax };
      const key = `${q}x${T}x${k}:${spec.kl}${spec.klInLoss ? "+" : "-"}:${spec.ppo ? "ppo" : "pg"}`;
      const session = await this.trainSessions.get(key, () => this.createSession(buildTrainGraph(this.config, graph)));
      const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
      const scalar = (x: number) => f32(Float32Array.of(x), []);
      const I = TRAIN_INPUTS;

      // Gradients land straight in one flat buffer (views per parameter), ready for applyAdamW.
      const flatGrads = new Float32Array(this.layout.size);
      const scratch = runs > 1 ? new Float32Array(this.layout.size) : flatGrads;
      const parts: LossValues[] = [];
      const weightFeeds = this.feeds();
      for (let r = 0; r < runs; r++) {
        const s = r * q,
          e = Math.min(B, s + q);
        const rows = <A extends Float32Array | BigInt64Array>(data: A, perRow: number): A => {
          const view = data.subarray(s * perRow, e * perRow) as A;
          if (e - s === q) return view;
          const padded = new (data.constructor as new (n: number) => A)(q * perRow);
          padded.set(view as never);
          return padded;
        };
        const feeds: Record<string, ort.Tensor> = {
          ...weightFeeds,
          [TOKENS_INPUT]: new ort.Tensor("int64", rows(idsI64, T), [q, T]),
          [I.temperature]: scalar(temperature),
          [I.bannedKeep]: f32(keep, [V]),
          [I.bannedAdd]: f32(add, [V]),
          [I.sampleCount]: scalar(o.sampleCount),
        };
        for (const [name, [, ...shape]] of lossDataShapes(spec, q, T, k, V)) {
          const perRow = sizeOf(shape);
          feeds[name] =
            name === "completionIds"
              ? new ort.Tensor("int64", rows(completionIds, perRow), [q, ...shape])
              : f32(rows(d[name] as Float32Array, perRow), [q, ...shape]);
        }
        if (spec.klInLoss) feeds[I.klBeta] = scalar(o.klBeta);
        if (spec.ppo) {
          feeds[I.clipLow] = scalar(1 - o.clipEps);
          feeds[I.clipHigh] = scalar(1 + o.clipEps);
        }
        const target = r === 0 ? flatGrads : scratch;
        const fetches: Record<string, ort.Tensor | null> = {};
        for (const output of session.outputNames) fetches[output] = null;
        for (const [name, shape] of this.shapes) fetches[gradOutputName(name)] = new ort.Tensor("float32", this.layout.view(target, name), shape);
        const out = await session.run(feeds, fetches);
        if (r > 0) for (let i = 0; i < flatGrads.length; i++) flatGrads[i]! += scratch[i]!;
        const outputs = Object.fromEntries(LOSS_VALUE_KEYS.map((key) => [key, out[key] ?? null])) as unknown as LossParts<ort.Tensor>;
        parts.push(readLossParts(outputs, (x) => (x.data as Float32Array)[0]!));
      }
      return { values: sumLossValues(parts), grads: this.layout.views(flatGrads) };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Update

  /** One AdamW step (libs/model's arithmetic) with the given gradients, which must cover every weight. */
  applyAdamW(grads: Map<string, Float32Array>, opts: AdamWSettings): Promise<void> {
    return this.exclusive(async () => {
      const problems: string[] = [];
      for (const [name, shape] of this.shapes) {
        const g = grads.get(name);
        if (!g) problems.push(`missing "${name}"`);
        else if (g.length !== sizeOf(shape)) problems.push(`"${name}" has ${g.length} values; expected ${sizeOf(shape)}`);
      }
      for (const name of grads.keys()) if (!this.shapes.has(name)) problems.push(`"${name}" is not a parameter of this model`);
      if (problems.length) throw new Error(`applyAdamW needs one gradient per parameter:\n  - ${problems.join("\n  - ")}`);
      for (const [key, value] of Object.entries(opts)) {
        if (!Number.isFinite(value)) throw new Error(`applyAdamW option ${key} is ${value}; expected a finite number`);
      }
      const moments = this.moments ?? { step: 0, m: new Float32Array(this.layout.size), v: new Float32Array(this.layout.size) };
      const step = moments.step + 1;
      const scalars = adamwScalars(opts, step);
      const flatGrads = this.layout.backing(grads) ?? this.layout.pack(grads);
      const next: Moments = this.spareMoments ?? { step, m: new Float32Array(this.layout.size), v: new Float32Array(this.layout.size) };
      next.step = step;
      const vector = (data: Float32Array) => new ort.Tensor("float32", data, [data.length]);
      const feeds: Record<string, ort.Tensor> = {};
      const fetches: Record<string, ort.Tensor> = {};
      for (const name of ADAMW_SCALARS) feeds[name] = new ort.Tensor("float32", Float32Array.of(scalars[name]), []);
      for (const group of ["decayed", "other"] as const) {
        if (this.layout.group(this.flat, group).length === 0) continue;
        const n = adamwNames(group);
        const part = (flat: Float32Array) => vector(this.layout.group(flat, group));
        feeds[n.param] = part(this.flat);
        feeds[n.m] = part(moments.m);
        feeds[n.v] = part(moments.v);
        feeds[n.grad] = part(flatGrads);
        fetches[n.newParam] = part(this.spare);
        fetches[n.newM] = part(next.m);
        fetches[n.newV] = part(next.v);
      }
      this.adamwSession ??= this.createSession(buildAdamWGraph({ decayed: this.layout.decayedSize, other: this.layout.size - this.layout.decayedSize }));
      await (await this.adamwSession).run(feeds, fetches);
      [this.flat, this.spare] = [this.spare, this.flat];
      this.weightsChanged();
      this.spareMoments = this.moments;
      this.moments = next;
    });
  }

  // -------------------------------------------------------------------------------------------
  // State

  /** A copy of every weight, keyed by docs/model-format.md names. */
  getWeights(): Weights {
    return new Map([...this.shapes.keys()].map((name) => [name, this.layout.view(this.flat, name).slice()]));
  }

  /** Replaces every weight (copied); names and sizes must match the config exactly. */
  setWeights(weights: Weights): void {
    checkWeightsAgainstConfig(this.config, weights, "OnnxTrainer weights");
    // A new buffer, not an in-place copy: an operation already queued keeps the weights it started with.
    this.flat = this.layout.pack(weights);
    this.weightsChanged();
  }

  /** AdamW's step and moments (`m.<param>`, `v.<param>`), or null before any update or import. */
  exportOptimizerState(): AdamWState | null {
    if (!this.moments) return null;
    const tensors = new Map<string, Float32Array>();
    for (const name of this.shapes.keys()) tensors.set(`m.${name}`, this.layout.view(this.moments.m, name).slice());
    for (const name of this.shapes.keys()) tensors.set(`v.${name}`, this.layout.view(this.moments.v, name).slice());
    return { step: this.moments.step, tensors };
  }

  /** Restores exportOptimizerState's result (checked against the parameters); null starts afresh. */
  importOptimizerState(state: AdamWState | null): void {
    if (state === null) {
      this.moments = null;
      return;
    }
    checkOptimizerState(state, this.shapes);
    const moments = (kind: "m" | "v") => this.layout.pack(new Map([...this.shapes.keys()].map((name) => [name, state.tensors.get(`${kind}.${name}`)!])));
    this.moments = { step: state.step, m: moments("m"), v: moments("v") };
  }

  parameterCount(): number {
    return this.layout.size;
  }

  /**
   * Where onnxruntime puts the nodes of each graph this trainer runs, for these providers (counts
   * per provider and the CPU's nodes; describePlacement words them). Built at batch 1 (placement does not depend on shapes) with the default loss
   * (k3 KL in the loss, no PPO clipping); one child process per graph (graphPlacement).
   */
  async placement(kinds: ReadonlyArray<"forward" | "train" | "adamw">): Promise<Record<string, Placement>> {
    const providers = this.sessionOptions.executionProviders as string[];
    const T = this.config.seq_len;
    const graphs: Record<string, () => Uint8Array> = {
      forward: () =>
        buildForwardGraph(this.config, {
          batch: 1,
          seqLen: T,
          embedding: this.embedding,
          weights: this.bakeForwardWeights ? this.layout.views(this.flat) : undefined,
        }),
      train: () =>
        buildTrainGraph(this.config, {
          kl: "k3",
          klInLoss: true,
          ppo: false,
          batch: 1,
          seqLen: T,
          groupSize: 1,
          embedding: this.embedding,
          logSoftmax: this.logSoftmax,
        }),
      adamw: () => buildAdamWGraph({ decayed: this.layout.decayedSize, other: this.layout.size - this.layout.decayedSize }),
    };
    const out: Record<string, Placement> = {};
    for (const kind of kinds) out[kind] = await graphPlacement(graphs[kind]!(), providers);
    return out;
  }

  /** Releases every session; the trainer cannot run afterwards. */
  release(): Promise<void> {
    return this.exclusive(async () => {
      this.released = true;
      await this.forwardSessions.clear();
      await this.trainSessions.clear();
      const adamw = this.adamwSession;
      this.adamwSession = null;
      await adamw?.then((s) => s.release()).catch(() => undefined);
    }, true);
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  private exclusive<T>(fn: () => Promise<T>, allowReleased = false): Promise<T> {
    const run = async () => {
      if (this.released && !allowReleased) throw new Error("OnnxTrainer was released; create a new one");
      return fn();
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Splits a batch into near-equal runs of at most tokensPerRun tokens (at least one input each). */
  private runsFor(batch: number, seqLen: number, tokensPerRun: number): { runs: number; perRun: number } {
    const runs = Math.ceil(batch / Math.max(1, Math.min(batch, Math.floor(tokensPerRun / seqLen))));
    return { runs, perRun: Math.ceil(batch / runs) };
  }

  /** Baked forward sessions are keyed by this, so stale ones age out of the LRU (released there, inside the queue). */
  private weightsChanged(): void {
    this.weightFeeds = null;
    this.weightsVersion++;
  }

  private createSession(model: Uint8Array): Promise<ort.InferenceSession> {
    return ort.InferenceSession.create(model, this.sessionOptions).then((session) => {
      this.sessionsCreated++;
      return session;
    });
  }

  /**
   * Sessions held now: cached forward and training sessions (each cache holds at most
   * `sessionCacheSize`), and how many were created and not yet released (the AdamW session
   * included) — what a leak test watches.
   */
  sessionCounts(): { forward: number; train: number; open: number } {
    const released = this.forwardSessions.released + this.trainSessions.released;
    return { forward: this.forwardSessions.size, train: this.trainSessions.size, open: this.sessionsCreated - released };
  }

  private feeds(): Record<string, ort.Tensor> {
    if (!this.weightFeeds) {
      this.weightFeeds = {};
      for (const [name, shape] of this.shapes) this.weightFeeds[name] = new ort.Tensor("float32", this.layout.view(this.flat, name), shape);
    }
    return this.weightFeeds;
  }

  private checkedIds(ids: Int32Array, batch: number, seqLen: number): BigInt64Array {
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(seqLen) || seqLen < 1) {
      throw new Error(`batch ${batch} and seqLen ${seqLen} must be positive integers`);
    }
    if (seqLen > this.config.seq_len) throw new Error(`sequences of length ${seqLen} are longer than this model's seq_len ${this.config.seq_len}`);
    if (ids.length !== batch * seqLen) throw new Error(`${ids.length} ids do not make ${batch} sequences of ${seqLen}; pass batch·seqLen ids`);
    const V = this.config.vocab_size;
    const out = new BigInt64Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= V) throw new Error(`token id ${id} at position ${i} is outside the vocabulary [0, ${V})`);
      out[i] = BigInt(id);
    }
    return out;
  }
}
