// `npm run bench -- engine`: forward and training-step (GRPO loss + gradients + AdamW) speed of
// every training engine behind libs/role-engines's TrainingBackend seam, at the bundled generator's size
// and at the benchmarks' reference size, in seconds and GFLOP/s (flopsPerToken; train = 3× forward).
// Weights are seeded random (speed does not depend on them); inputs are real masked corpus text.
import { writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Corpus } from "@grpomesh/data";
import type { TrainingBackend } from "@grpomesh/role-engines";
import { accumulateGradients } from "@grpomesh/role-engines/accumulate";
import type { LossInputs, LossOptions } from "@grpomesh/grpo/loss";
import {
  BANNED_LOGIT,
  clipScale,
  expectedTensorShapes,
  globalNorm,
  flopsPerToken,
  parameterCount,
  specialTokenIds,
  validateConfig,
  type ModelConfig,
  type Weights,
} from "@grpomesh/model/format";
import { Rng, mixSeeds } from "@grpomesh/rng";
import { ENGINES, type Engine, type EngineBenchConfig, type SizeName } from "./settings.ts";
import { formatTable, median } from "./stats.ts";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The reference size of the engine benchmarks (4.85M parameters with the bundled vocabulary). */
export const REFERENCE_ARCH = { n_layer: 6, d_model: 256, n_head: 8, d_ff: 1024, seq_len: 256 } as const;
/** Inputs per batch: the GRPO batch at the default size, 64 at the reference size. */
export const SIZE_BATCH: Record<SizeName, number> = { default: 16, reference: 64 };
/** The goals at the reference size, in GFLOP/s (PyTorch trains at ≈79 here). */
export const GOALS = { train: 80, forward: 120 } as const;
/**
 * Inputs per lossAndGrads call when --micro_batch=auto (0 = the whole batch). tfjs-wasm's 4 GiB
 * heap cannot hold a T=256 backward pass of 16 inputs; onnx splits large batches itself.
 */
export const AUTO_MICRO_BATCH: Record<Engine, Record<SizeName, number>> = { onnx: { default: 0, reference: 0 }, tfjs: { default: 0, reference: 4 } };

/** The seed's GRPO hyper-parameters the training step runs with (libs/loop GRPO_DEFAULTS). */
export const STEP_SETTINGS = { temperature: 0.8, klBeta: 0.1, lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 1 } as const;

// ---------------------------------------------------------------------------------------------
// Arithmetic

/** FLOPs of one forward and one training step over B·T tokens (flopsPerToken; train = 3× forward). */
export function batchFlops(config: ModelConfig, batch: number, seqLen = config.seq_len): { forward: number; train: number } {
  const perToken = flopsPerToken(config, seqLen);
  const tokens = batch * seqLen;
  return { forward: perToken.forward * tokens, train: perToken.train * tokens };
}

export function gflopPerSecond(flops: number, seconds: number): number {
  return seconds > 0 ? flops / seconds / 1e9 : NaN;
}

/** The config of a size: the generator's own, or its vocabulary at the reference architecture. */
export function sizeConfig(size: SizeName, generator: ModelConfig): ModelConfig {
  return size === "default" ? generator : validateConfig({ ...generator, ...REFERENCE_ARCH });
}

/**
 * Seeded GPT-2-style weights (normal(0, 0.02), residual projections scaled by 1/√(2L), zero
 * biases, LayerNorm weight 1), like MaskedTransformer's, but without loading tfjs.
 */
export function seededWeights(config: ModelConfig, seed: number): Weights {
  const rng = new Rng(mixSeeds(seed, "bench-engine-weights"));
  const residualStd = 0.02 / Math.sqrt(2 * config.n_layer);
  const weights: Weights = new Map();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/(^|\.)ln(1|2|_f)\.weight$/.test(name)) values.fill(1);
    else if (name.endsWith(".weight")) {
      const std = name.endsWith("attn.out.weight") || name.endsWith("mlp.proj.weight") ? residualStd : 0.02;
      for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    }
    weights.set(name, values);
  }
  return weights;
}

// ---------------------------------------------------------------------------------------------
// The GRPO batch a training step learns from

/** Masked inputs: [B·T] ids with maskTokenId at masked positions, the original ids, and the mask. */
export interface MaskedInputs {
  batchSize: number;
  seqLen: number;
  inputs: Int32Array;
  targets: Int32Array;
  mask: Uint8Array;
}

/**
 * A GRPO batch as the loop would build it, from the policy's own logits: log-softmax at τ with the
 * special tokens banned (the reference = the initial policy, for the exact KL), k completions
 * sampled per input at the masked positions, rewards = the fraction of masked characters filled
 * in correctly (a verifiable reward), and global group-relative advantages (libs/grpo).
 */
export async function grpoBatch(
  config: ModelConfig,
  data: MaskedInputs,
  logits: Float32Array,
  groupSize: number,
  seed: number,
): Promise<{ inputs: LossInputs; fracZeroStdGroups: number; meanReward: number }> {
  const { groupRelativeAdvantages } = await import("@grpomesh/grpo");
  const { batchSize: B, seqLen: T } = data;
  const V = config.vocab_size;
  const k = groupSize;
  if (logits.length !== B * T * V) throw new Error(`logits hold ${logits.length} values; expected B·T·V = ${B}·${T}·${V}`);
  const banned = new Set(specialTokenIds(config));
  const tau = STEP_SETTINGS.temperature;
  const refLogProbs = new Float32Array(B * T * V);
  const row = new Float64Array(V);
  for (let p = 0; p < B * T; p++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) {
      row[v] = banned.has(v) ? BANNED_LOGIT : logits[p * V + v]! / tau;
      if (row[v]! > max) max = row[v]!;
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(row[v]! - max);
    const logZ = max + Math.log(sum);
    for (let v = 0; v < V; v++) refLogProbs[p * V + v] = row[v]! - logZ;
  }

  const rng = new Rng(mixSeeds(seed, "bench-engine-completions"));
  const completions = new Int32Array(B * k * T);
  const rewards = new Float64Array(B * k);
  for (let i = 0; i < B; i++) {
    let masked = 0;
    for (let t = 0; t < T; t++) masked += data.mask[i * T + t]!;
    for (let j = 0; j < k; j++) {
      const out = (i * k + j) * T;
      let correct = 0;
      for (let t = 0; t < T; t++) {
        const p = i * T + t;
        if (!data.mask[p]) {
          completions[out + t] = data.inputs[p]!;
          continue;
        }
        let u = rng.next();
        let a = V - 1;
        for (let v = 0; v < V; v++) {
          u -= Math.exp(refLogProbs[p * V + v]!);
          if (u < 0) {
            a = v;
            break;
          }
        }
        while (banned.has(a)) a--; // rounding left u ≥ 0 past the last allowed token
        completions[out + t] = a;
        if (a === data.targets[p]) correct++;
      }
      rewards[i * k + j] = masked ? correct / masked : 0;
    }
  }
  const adv = groupRelativeAdvantages(rewards, { groupSize: k, norm: "global" });
  return {
    inputs: { batchSize: B, groupSize: k, seqLen: T, vocabSize: V, completions, mask: data.mask, advantages: adv.advantages, refLogProbs },
    fracZeroStdGroups: adv.fracZeroStdGroups,
    meanReward: rewards.reduce((a, b) => a + b, 0) / rewards.length,
  };
}

/**
 * One training step as the policy runs it: Σ of lossAndGrads over micro-batches (each divided by
 * the whole batch's B·k), global-norm clipping, AdamW. Returns the loss and the time of each part.
 */
export async function trainingStep(
  backend: TrainingBackend,
  ids: Int32Array,
  inputs: LossInputs,
  microBatch: number,
): Promise<{ loss: number; gradNorm: number; grads_s: number; adamw_s: number }> {
  const { batchSize: B, groupSize: k } = inputs;
  const options: LossOptions = { klBeta: STEP_SETTINGS.klBeta, klEstimator: "exact", tokenReduction: "sum", sampleCount: B * k };
  const t0 = performance.now();
  const { grads, values } = await accumulateGradients(backend, ids, inputs, options, STEP_SETTINGS.temperature, microBatch);
  const gradNorm = globalNorm(grads.values());
  const gradScale = clipScale(gradNorm, STEP_SETTINGS.gradClip);
  const t1 = performance.now();
  const { lr, beta1, beta2, eps, weightDecay } = STEP_SETTINGS;
  await backend.applyAdamW(grads, { lr, beta1, beta2, eps, weightDecay, gradScale });
  const t2 = performance.now();
  return { loss: values.loss, gradNorm, grads_s: (t1 - t0) / 1000, adamw_s: (t2 - t1) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Measuring one engine at one size

export interface PhaseTimes {
  /** Timed runs, seconds. */
  runs_s: number[];
  warmup_s: number[];
  median_s: number;
  min_s: number;
  gflops: number;
}

export interface TrainTimes extends PhaseTimes {
  /** Per timed run: lossAndGrads over all micro-batches (+ the gradient sum and norm), and AdamW. */
  grads_s: number[];
  adamw_s: number[];
}

export interface EngineMeasurement {
  forward: PhaseTimes;
  train: TrainTimes;
  /** Loss of every training step run (warm-up included), in order. */
  losses: number[];
  gradNorms: number[];
  microBatch: number;
  fracZeroStdGroups: number;
  meanReward: number;
}

export interface MeasureSpec {
  config: ModelConfig;
  data: MaskedInputs;
  groupSize: number;
  /** Inputs per lossAndGrads call; 0 = the whole batch. */
  microBatch: number;
  runs: number;
  warmup: number;
  /** Seconds per phase after which no further timed run starts (once one is done); 0 = no limit. */
  budgetS: number;
  seed: number;
}

/** Warm-up runs, then timed runs until `runs` or the budget; `progress` hears what is running. */
async function timePhase(
  runs: number,
  warmup: number,
  budgetS: number,
  fn: () => Promise<void>,
  progress: (what: string) => void,
): Promise<{ warmup_s: number[]; runs_s: number[] }> {
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const over = (next: number) => budgetS > 0 && elapsed() + next > budgetS;
  const warm: number[] = [];
  const timed: number[] = [];
  for (let i = 0; i < warmup; i++) {
    if (warm.length && over(warm.at(-1)!)) break;
    progress(`warm-up ${i + 1}/${warmup}${warm.length ? ` (last ${warm.at(-1)!.toFixed(2)} s)` : ""}`);
    const t0 = performance.now();
    await fn();
    warm.push((performance.now() - t0) / 1000);
  }
  while (timed.length < runs) {
    if (timed.length && over(median(timed))) break;
    progress(
      `run ${timed.length + 1}/${runs}${timed.length ? ` (median so far ${median(timed).toFixed(2)} s)` : warm.length ? ` (warm-up took ${warm.at(-1)!.toFixed(2)} s)` : ""}`,
    );
    const t0 = performance.now();
    await fn();
    timed.push((performance.now() - t0) / 1000);
  }
  return { warmup_s: warm, runs_s: timed };
}

/**
 * Times `backend` (weights already set): forward = logits(masked inputs); training step =
 * trainingStep on a GRPO batch built from the first forward's logits. Changes the weights.
 */
export async function measureEngine(backend: TrainingBackend, spec: MeasureSpec, progress: (what: string) => void = () => {}): Promise<EngineMeasurement> {
  const { config, data } = spec;
  const { batchSize: B, seqLen: T } = data;
  if (data.inputs.length !== B * T) throw new Error(`masked inputs hold ${data.inputs.length} ids; expected B·T = ${B}·${T}`);
  const flops = batchFlops(config, B, T);

  let first: Float32Array | null = null;
  const fwd = await timePhase(
    spec.runs,
    spec.warmup,
    spec.budgetS,
    async () => {
      const logits = await backend.logits(data.inputs, B, T);
      first ??= logits;
    },
    (what) => progress(`forward ${what}`),
  );

  const batch = await grpoBatch(config, data, first!, spec.groupSize, spec.seed);
  const losses: number[] = [];
  const gradNorms: number[] = [];
  const parts: Array<{ grads_s: number; adamw_s: number }> = [];
  const train = await timePhase(
    spec.runs,
    spec.warmup,
    spec.budgetS,
    async () => {
      const r = await trainingStep(backend, data.inputs, batch.inputs, spec.microBatch);
      losses.push(r.loss);
      gradNorms.push(r.gradNorm);
      parts.push(r);
    },
    (what) => progress(`training step ${what}`),
  );
  const timedParts = parts.slice(train.warmup_s.length);

  const summary = (t: { warmup_s: number[]; runs_s: number[] }, flop: number): PhaseTimes => ({
    ...t,
    median_s: median(t.runs_s),
    min_s: Math.min(...t.runs_s),
    gflops: gflopPerSecond(flop, median(t.runs_s)),
  });
  return {
    forward: summary(fwd, flops.forward),
    train: { ...summary(train, flops.train), grads_s: timedParts.map((p) => p.grads_s), adamw_s: timedParts.map((p) => p.adamw_s) },
    losses,
    gradNorms,
    microBatch: spec.microBatch > 0 ? Math.min(spec.microBatch, B) : B,
    fracZeroStdGroups: batch.fracZeroStdGroups,
    meanReward: batch.meanReward,
  };
}

// ---------------------------------------------------------------------------------------------
// Reports

export interface EngineResult {
  engine: Engine;
  /** What runs (the backend's description), when it started. */
  description?: string;
  /** Why it did not start or failed, when it did not finish. */
  problem?: string;
  result?: EngineMeasurement;
}

export interface SizeReport {
  size: SizeName;
  model: string;
  batchSize: number;
  seqLen: number;
  groupSize: number;
  parameters: number;
  flops: { forward: number; train: number };
  engines: EngineResult[];
}

const sec = (s: number | undefined) => (s === undefined || !Number.isFinite(s) ? "—" : s < 10 ? s.toFixed(3) : s.toFixed(1));
const gf = (g: number | undefined) => (g === undefined || !Number.isFinite(g) ? "—" : g.toFixed(1));
const times = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : "—");

/** engine median / tfjs median per phase (NaN where either is missing). */
export function speedUps(report: SizeReport, engine: Engine): { forward: number; train: number } {
  const tfjs = report.engines.find((e) => e.engine === "tfjs")?.result;
  const own = report.engines.find((e) => e.engine === engine)?.result;
  if (!tfjs || !own) return { forward: NaN, train: NaN };
  return { forward: tfjs.forward.median_s / own.forward.median_s, train: tfjs.train.median_s / own.train.median_s };
}

export function formatSizeReport(r: SizeReport): string {
  const header = [
    "engine",
    "what runs",
    "fwd runs",
    "fwd s",
    "fwd min s",
    "fwd GFLOP/s",
    "train runs",
    "train s",
    "train min s",
    "train GFLOP/s",
    "fwd vs tfjs",
    "train vs tfjs",
  ];
  const rows: string[][] = [];
  const notes: string[] = [];
  // formatTable right-aligns every column but the first; padding first left-aligns this text one.
  const describe = Math.max(0, ...r.engines.map((e) => (e.result ? (e.description ?? "").length : 0)));
  for (const e of r.engines) {
    const m = e.result;
    if (!m) {
      notes.push(`  ${e.engine}: not measured — ${e.problem ?? "unknown reason"}`);
      continue;
    }
    const up = speedUps(r, e.engine);
    rows.push([
      e.engine,
      (e.description ?? "").padEnd(describe),
      String(m.forward.runs_s.length),
      sec(m.forward.median_s),
      sec(m.forward.min_s),
      gf(m.forward.gflops),
      String(m.train.runs_s.length),
      sec(m.train.median_s),
      sec(m.train.min_s),
      gf(m.train.gflops),
      times(up.forward),
      times(up.train),
    ]);
    const grads = median(m.train.grads_s),
      adam = median(m.train.adamw_s);
    notes.push(
      `  ${e.engine}: training step = lossAndGrads ${sec(grads)} s (in ${Math.ceil(r.batchSize / m.microBatch)} call(s) of ≤ ${m.microBatch} inputs) + AdamW ${sec(adam)} s; ` +
        `losses ${m.losses.map((l) => l.toFixed(4)).join(", ")}`,
    );
  }
  return [
    `size ${r.size}: ${r.model}; B=${r.batchSize}, T=${r.seqLen}, k=${r.groupSize}; forward ${(r.flops.forward / 1e9).toFixed(1)} GFLOP, training step ${(r.flops.train / 1e9).toFixed(1)} GFLOP (flopsPerToken, train = 3× forward)`,
    rows.length ? formatTable(header, rows) : "  (no engine measured)",
    ...notes,
  ].join("\n");
}

/** One line per engine measured at the reference size: its GFLOP/s against GOALS. */
export function goalLines(reports: readonly SizeReport[]): string[] {
  const ref = reports.find((r) => r.size === "reference");
  const head = `goals at the reference size: training step ≥ ${GOALS.train} GFLOP/s (PyTorch's ≈79), forward ≥ ${GOALS.forward} GFLOP/s`;
  if (!ref) return [head, "  the reference size was not run (--sizes); the goals apply to it"];
  const lines = [head];
  for (const e of ref.engines) {
    if (!e.result) {
      lines.push(`  ${e.engine}: not measured`);
      continue;
    }
    const verdict = (g: number, goal: number) => `${gf(g)} (${g >= goal ? "met" : "not met"})`;
    const both = e.result.train.gflops >= GOALS.train && e.result.forward.gflops >= GOALS.forward;
    lines.push(
      `  ${e.engine}: training step ${verdict(e.result.train.gflops, GOALS.train)}, forward ${verdict(e.result.forward.gflops, GOALS.forward)} — ${both ? "meets both goals" : "does not meet both goals"}`,
    );
  }
  return lines;
}

export interface Machine {
  cpu: string;
  logicalCpus: number;
  threads: number;
  node: string;
  loadAverage1mAtStart: number;
  loadAverage1mAtEnd: number;
}

export function noiseLine(m: Machine): string {
  return (
    `timings on this shared ${m.logicalCpus}-core VM are noisy (other work shares its cores; load average ${m.loadAverage1mAtStart.toFixed(2)} at the start, ` +
    `${m.loadAverage1mAtEnd.toFixed(2)} at the end, this bench included): compare engines within one run; a busy core slows a multi-threaded engine more than single-threaded tfjs-wasm`
  );
}

/** The --json file: everything printed, with every run's time. */
export function resultsJson(machine: Machine, options: EngineBenchConfig, reports: readonly SizeReport[], time = new Date()): string {
  return (
    JSON.stringify(
      {
        machine,
        time: time.toISOString(),
        options,
        settings: STEP_SETTINGS,
        goals_gflops: GOALS,
        weights: `seeded random (seed ${options.seed})`,
        sizes: reports.map((r) => ({ ...r, engines: r.engines.map((e) => ({ ...e, speedup_vs_tfjs: e.result ? speedUps(r, e.engine) : undefined })) })),
      },
      (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
      2,
    ) + "\n"
  );
}

// ---------------------------------------------------------------------------------------------
// The bench

/** One progress line on stderr, rewritten in place (\r); `label` may change as more is known. */
export function progressWriter(label: string): { label: string; update(what: string): void; done(line: string): void } {
  let width = 0;
  const write = (text: string, end: string) => {
    process.stderr.write(`\r${text.padEnd(width)}${end}`);
    width = end ? 0 : text.length;
  };
  const p = {
    label,
    update: (what: string) => write(`  ${p.label}: ${what} …`, ""),
    done: (line: string) => write(`  ${p.label}: ${line}`, "\n"),
  };
  return p;
}

/** One batch of B masked windows of the corpus's training text (default masking), seeded. */
export async function maskedCorpusBatch(corpus: Corpus, seqLen: number, batchSize: number, seed: number): Promise<MaskedInputs> {
  const { MaskedBatchStream, DEFAULT_MASKING } = await import("@grpomesh/data");
  return new MaskedBatchStream({ ids: corpus.train, seqLen, batchSize, seed, masking: DEFAULT_MASKING, maskTokenId: corpus.vocab.maskTokenId }).next();
}

export async function run(o: EngineBenchConfig): Promise<void> {
  // Engines and the corpus load only now, so --help and flag errors are instant.
  const { loadConfig } = await import("@grpomesh/model/format");
  const { loadCorpus } = await import("@grpomesh/data");
  const { createTrainingBackend } = await import("@grpomesh/role-engines");

  const generator = loadConfig(resolve(ROOT, o.generator));
  const corpus = loadCorpus();
  if (corpus.vocab.tokens.join("\u0000") !== generator.vocab.join("\u0000") || corpus.vocab.maskTokenId !== generator.mask_token_id) {
    throw new Error(
      `${o.generator}/config.json has another vocabulary than the corpus (${corpus.vocab.tokens.length} tokens); expected the bundled generator's. Pass --generator=DIR of a model trained on this corpus.`,
    );
  }
  const threads = o.threads || availableParallelism();
  const cpu = cpus();
  const machine: Machine = {
    cpu: cpu[0]?.model ?? "unknown CPU",
    logicalCpus: cpu.length,
    threads,
    node: process.version,
    loadAverage1mAtStart: loadavg()[0]!,
    loadAverage1mAtEnd: NaN,
  };
  console.log(
    `bench engine: ${machine.cpu}, ${machine.logicalCpus} logical CPU(s), node ${machine.node}, load average ${machine.loadAverage1mAtStart.toFixed(2)}; onnxruntime threads ${threads}`,
  );
  console.log(
    `weights: seeded random (seed ${o.seed}); inputs: masked windows of the corpus (default masking); training step: GRPO loss (k=${o.group_size}, global group-relative advantages, ` +
      `exact KL against the initial policy, β ${STEP_SETTINGS.klBeta}, τ ${STEP_SETTINGS.temperature}) + gradients + clipping + AdamW; ${o.warmup} warm-up + up to ${o.runs} timed runs per phase` +
      (o.budget_s > 0 ? `, fewer once a phase has taken ${o.budget_s} s` : ""),
  );

  const engines = o.engines ? [...new Set(o.engines.split(",").map((e) => e.trim() as Engine))] : [...ENGINES];
  const reports: SizeReport[] = [];
  for (const size of new Set(o.sizes.split(",").map((n) => n.trim() as SizeName))) {
    const config = sizeConfig(size, generator);
    const B = SIZE_BATCH[size];
    const T = config.seq_len;
    const data = await maskedCorpusBatch(corpus, T, B, mixSeeds(o.seed, "bench-engine-data", size));
    const weights = seededWeights(config, o.seed);
    const parameters = parameterCount(config);
    const report: SizeReport = {
      size,
      model: `${config.n_layer} layers, d_model ${config.d_model}, ${config.n_head} heads, d_ff ${config.d_ff}, V=${config.vocab_size} (${(parameters / 1e6).toFixed(2)}M parameters)`,
      batchSize: B,
      seqLen: T,
      groupSize: o.group_size,
      parameters,
      flops: batchFlops(config, B, T),
      engines: [],
    };
    console.log(`size ${size}: ${report.model}, B=${B}, T=${T}`);
    for (const engine of engines) {
      const p = progressWriter(`${engine} at ${size}`);
      p.update("starting");
      let backend: TrainingBackend | null = null;
      const entry: EngineResult = { engine };
      report.engines.push(entry);
      try {
        const created = await createTrainingBackend(config, { engine, threads, tfjsBackend: o.tfjs_backend || undefined });
        backend = created.backend;
        entry.description = backend.description;
        if (created.selection.engine !== engine) throw new Error(`asked for ${engine} but got ${created.selection.engine} (${created.selection.reason})`);
      } catch (err) {
        entry.problem = `could not start: ${(err as Error).message}`;
        p.done(entry.problem);
        await backend?.dispose();
        continue;
      }
      try {
        await backend.setWeights(weights);
        p.label = `${engine} at ${size} (${backend.description})`;
        const microBatch = o.micro_batch === "auto" ? AUTO_MICRO_BATCH[engine][size] : Number(o.micro_batch);
        entry.result = await measureEngine(
          backend,
          { config, data, groupSize: o.group_size, microBatch, runs: o.runs, warmup: o.warmup, budgetS: o.budget_s, seed: o.seed },
          p.update,
        );
        p.done(`forward ${sec(entry.result.forward.median_s)} s, training step ${sec(entry.result.train.median_s)} s (medians)`);
      } catch (err) {
        entry.problem = `failed while measuring: ${(err as Error).message}`;
        p.done(entry.problem);
      } finally {
        await backend.dispose();
      }
    }
    reports.push(report);
    console.log(formatSizeReport(report));
  }
  for (const line of goalLines(reports)) console.log(line);
  machine.loadAverage1mAtEnd = loadavg()[0]!;
  console.log(noiseLine(machine));
  if (o.json) {
    writeFileSync(o.json, resultsJson(machine, o, reports));
    console.log(`results written to ${o.json}`);
  }
}
