// `npm run bench -- peer`: our GRPO step (in-process, as `bench step` runs it) side by side with the
// seed's algorithm in PyTorch (tools/bench/peer/grpo_peer.py) on the same model, judge weights,
// batches, hyper-parameters and threads. Two peers: "repeat" (each input repeated k times, every
// phase on B·k sequences, as the seed's users run it) and "group" (one forward per input, the best
// a PyTorch user could do). Our goals: peer-repeat/ours ≥ 8 and peer-group/ours ≥ 1.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProto_DataType } from "onnx-buf";
import { floatValues } from "@grpomesh/autodiff/graph";
import { expectedTensorShapes, validateConfig, type ModelConfig, type Weights } from "@grpomesh/model/format";
import { PEER_MODES, SIZE_NAMES, type PeerBenchConfig, type PeerMode, type SizeName } from "./settings.ts";
import { AUTO_MICRO_BATCH, REFERENCE_ARCH } from "./engine.ts";
import { formatTable, median } from "./stats.ts";
import type { EngineChoice } from "@grpomesh/role-engines";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const PEER_SCRIPT = fileURLToPath(new URL("../peer/grpo_peer.py", import.meta.url));
export const INSTALL_TORCH = "apt-get install -y python3-torch libopenblas0-pthread";
/** Debian's python3-torch installs for the system interpreter; a pyenv or venv `python3` on PATH does not see it. */
export const DEFAULT_PYTHONS = ["/usr/bin/python3", "python3"];
/** Largest |Δ| allowed between our logits/scores and the peer's for the same weights and ids. */
export const CHECK_TOLERANCE = 1e-3;
/** Load average above which the bench warns that other work shares the cores. */
export const BUSY_LOAD = 0.5;
const META_CONFIG = "grpomesh.config"; // libs/onnx-export export.ts writes the whole config.json here
const META_VERSION = "grpomesh.version";

export const PHASES = ["data", "sample", "judge", "reference", "advantage", "update", "step"] as const;
export type Phase = (typeof PHASES)[number];
export const GOALS: Record<PeerMode, number> = { repeat: 8, group: 1 };

// ---------------------------------------------------------------------------------------------
// Finding a Python that imports torch

export interface PythonProbe {
  python: string;
  torch?: string;
  problem?: string;
}

/** Tries each interpreter with `import torch`; never installs or downloads anything. */
export function probeTorch(candidates: readonly string[]): PythonProbe[] {
  const probes: PythonProbe[] = [];
  for (const python of [...new Set(candidates)]) {
    const r = spawnSync(python, ["-c", "import torch, sys; sys.stdout.write(torch.__version__)"], { encoding: "utf8", timeout: 120_000 });
    if (r.error) probes.push({ python, problem: (r.error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : r.error.message });
    else if (r.status !== 0) probes.push({ python, problem: lastLine(r.stderr) || `exit status ${r.status}` });
    else return [...probes, { python, torch: r.stdout.trim() }];
  }
  return probes;
}

/** What to do when no interpreter imports torch: the apt line first, then what was tried. */
export function torchMissingMessage(probes: readonly PythonProbe[]): string {
  return [
    `the PyTorch peer needs Debian's PyTorch with OpenBLAS, which is not installed. Install it with:`,
    ``,
    `    ${INSTALL_TORCH}`,
    ``,
    `then run the bench again (it uses /usr/bin/python3), or pass --python=PATH to an interpreter that imports torch. Tried:`,
    ...probes.map((p) => `  ${p.python}: ${p.problem}`),
  ].join("\n");
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}

// ---------------------------------------------------------------------------------------------
// The judge's weights out of its ONNX file, for the peer

/**
 * The config (ONNX metadata "grpomesh.config") and the weights (initializers named as in
 * docs/model-format.md) of a model that libs/onnx-export exported, e.g. the bundled judge, whose
 * folder ships only model.onnx. Other initializers (shape constants) are ignored.
 */
export function checkpointFromOnnx(bytes: Uint8Array, source = "model"): { config: ModelConfig; weights: Weights; version?: string } {
  let model;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (err) {
    throw new Error(`${source} is not an ONNX ModelProto (${(err as Error).message}); expected a .onnx file written by libs/onnx-export`);
  }
  const meta = Object.fromEntries(model.metadataProps.map((e) => [e.key, e.value]));
  const raw = meta[META_CONFIG];
  if (raw === undefined) {
    throw new Error(
      `${source} has no "${META_CONFIG}" metadata; expected an ONNX file exported by libs/onnx-export (exportModelToOnnx), which records config.json there. Re-export the model with it.`,
    );
  }
  const config = validateConfig(JSON.parse(raw));
  const byName = new Map((model.graph?.initializer ?? []).map((t) => [t.name, t]));
  const weights: Weights = new Map();
  const problems: string[] = [];
  for (const [name, shape] of expectedTensorShapes(config)) {
    const t = byName.get(name);
    if (!t) {
      problems.push(`no initializer "${name}"`);
      continue;
    }
    const dims = t.dims.map(Number);
    if (t.dataType !== TensorProto_DataType.FLOAT || dims.join(",") !== shape.join(",")) {
      problems.push(`"${name}" is ${TensorProto_DataType[t.dataType]} [${dims}]; expected FLOAT [${shape}]`);
      continue;
    }
    try {
      weights.set(name, floatValues(t));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new Error(`${source} does not hold the weights its config describes:\n  - ${problems.join("\n  - ")}`);
  return meta[META_VERSION] === undefined ? { config, weights } : { config, weights, version: meta[META_VERSION] };
}

// ---------------------------------------------------------------------------------------------
// Results and their table

export type PhaseTimes = Partial<Record<Phase, number>>;

export interface PeerModeResult {
  median_ms: PhaseTimes;
  steps_ms: number[];
  metrics: Array<Record<string, number>>;
  forward_rows: Record<string, number>;
}

export interface PeerOutput {
  torch: string;
  python: string;
  threads: number;
  blas: string;
  modes: Partial<Record<PeerMode, PeerModeResult>>;
}

export interface SizeReport {
  size: SizeName;
  model: string;
  batchSize: number;
  groupSize: number;
  warmup: number;
  steps: number;
  judge: string;
  ours: { engine: string; microBatchSize: number; median_ms: PhaseTimes; steps_ms: number[] };
  peer: PeerOutput;
  check: { logitsMaxAbsDiff: number; scoresMaxAbsDiff: number };
  /** peer step / our step, per mode. */
  ratios: Partial<Record<PeerMode, number>>;
}

/** Parses the peer's stdout: its last line is one JSON object with a result for every mode asked for. */
export function parsePeerOutput(stdout: string, modes: readonly PeerMode[]): PeerOutput {
  const line = lastLine(stdout);
  let out: PeerOutput;
  try {
    out = JSON.parse(line) as PeerOutput;
  } catch {
    throw new Error(`the PyTorch peer printed ${JSON.stringify(line.slice(0, 200))} last; expected one JSON line of results (see its stderr above)`);
  }
  for (const mode of modes) {
    const r = out.modes?.[mode];
    if (!r || !Number.isFinite(r.median_ms?.step))
      throw new Error(`the PyTorch peer's results have no step time for mode "${mode}"; expected modes.${mode}.median_ms.step`);
  }
  return out;
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "—";
}

/** One line per peer mode: the step ratio against its goal. */
export function goalLine(mode: PeerMode, ratio: number): string {
  const label = mode === "repeat" ? "peer repeat-k (B·k forwards)" : "peer one-forward-per-group (B forwards)";
  const verdict = !Number.isFinite(ratio) ? "not measured" : ratio >= GOALS[mode] ? "met" : "not met";
  return `${label} / ours: ${formatRatio(ratio)} step time (goal ≥ ${GOALS[mode]}×: ${verdict})`;
}

/** The table of one size: median phase times for ours and each peer mode, and peer/ours ratios. */
export function formatSizeReport(r: SizeReport): string {
  const modes = PEER_MODES.filter((m) => r.peer.modes[m]);
  const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(0));
  const rows = PHASES.map((phase) => {
    const ours = r.ours.median_ms[phase];
    const cells = [phase, ms(ours)];
    for (const m of modes) cells.push(ms(r.peer.modes[m]!.median_ms[phase]));
    for (const m of modes) {
      const peer = r.peer.modes[m]!.median_ms[phase];
      // Our reference runs while the policy samples and the judge scores: what is left of it is a
      // wait of ~0 ms, and a ratio against it means nothing.
      const overlapped = phase === "reference" && ours !== undefined && ours < 5;
      cells.push(
        phase === "data" || phase === "advantage" || ours === undefined || peer === undefined || ours <= 0
          ? ""
          : overlapped
            ? "overlapped"
            : formatRatio(peer / ours),
      );
    }
    return cells;
  });
  const names: Record<PeerMode, string> = { repeat: "peer repeat-k", group: "peer group" };
  const header = ["phase (median ms)", "ours (in-process)", ...modes.map((m) => names[m]), ...modes.map((m) => `${m}/ours`)];
  const rowsFor = (m: PeerMode) => String(r.peer.modes[m]!.forward_rows.update);
  return [
    `size ${r.size}: ${r.model}; B=${r.batchSize}, k=${r.groupSize} (${r.batchSize * r.groupSize} sequences a step); ${r.warmup} warm-up + ${r.steps} measured steps, medians`,
    `  ours: ${r.ours.engine}, in-process (no gRPC), update ${r.ours.microBatchSize ? `in micro-batches of ${r.ours.microBatchSize} inputs` : "on the whole batch"}; peer: PyTorch ${r.peer.torch} (Python ${r.peer.python}), ${r.peer.threads} thread(s), BLAS ${r.peer.blas}`,
    `  judge: ${r.judge}`,
    `  same model check: max |Δ| logits ${r.check.logitsMaxAbsDiff.toExponential(2)}, judge scores ${r.check.scoresMaxAbsDiff.toExponential(2)} (limit ${CHECK_TOLERANCE})`,
    formatTable(header, rows),
    `  sequences per policy forward (sample, reference, update): ours ${r.batchSize}; ${modes.map((m) => `${names[m]} ${rowsFor(m)}`).join("; ")}; the judge scores ${r.batchSize * r.groupSize} everywhere`,
    ...modes.map((m) => `  ${goalLine(m, r.ratios[m] ?? NaN)}`),
  ].join("\n");
}

/** Measured here: with one core taken, torch's OpenMP threads wait on each other (the peer ran 2-4× slower at 2 threads than at 1). */
export function busyWarning(load: number): string {
  return (
    `WARNING: load average ${load.toFixed(2)} before the bench: other work holds cores. Multi-threaded code slows unevenly when a core ` +
    `is taken (PyTorch's OpenMP threads most: 2-4× here), so these ratios are unreliable and mostly favour ours; ` +
    `rerun on an idle machine (load < ${BUSY_LOAD}) before quoting them.`
  );
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, what: string): number {
  if (a.length !== b.length)
    throw new Error(`${what}: ours has ${a.length} values, the peer's ${b.length}; both sides must run the same model on the same batch`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

// ---------------------------------------------------------------------------------------------
// The bench

export async function run(o: PeerBenchConfig): Promise<void> {
  const sizes: SizeName[] = o.size === "both" ? [...SIZE_NAMES] : [o.size];
  const modes = o.modes.split(",").map((m) => m.trim()) as PeerMode[];
  const microBatch = o.micro_batch_size === "auto" ? undefined : Number(o.micro_batch_size);

  // Before any model loads: a machine without torch learns it in a second.
  const probes = probeTorch(o.python ? [o.python] : DEFAULT_PYTHONS);
  const found = probes.find((p) => p.torch !== undefined);
  if (!found) throw new Error(torchMissingMessage(probes));
  const threads = o.threads || availableParallelism();
  const peerThreads = o.peer_threads || threads;
  const { selectEngine } = await import("@grpomesh/role-engines");
  const engine = o.engine === "" ? undefined : o.engine;
  // tfjs-wasm needs micro-batches at the reference size; the onnxruntime engine splits large batches itself.
  const engineName = selectEngine(engine).engine;

  // The load before we start says how much other work shares the cores (and the timings' noise).
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown CPU",
    logicalCpus: cpus().length,
    threads,
    peerThreads,
    loadAverage1mAtStart: loadavg()[0]!,
    loadAverage1mAtEnd: NaN,
  };
  console.log(
    `machine: ${machine.cpu}, ${machine.logicalCpus} logical CPU(s), load average ${machine.loadAverage1mAtStart.toFixed(2)} before the bench; ` +
      `${threads} thread(s) for our onnxruntime engines and judge, ${peerThreads} for the peer; python ${found.python} (torch ${found.torch})`,
  );
  if (machine.loadAverage1mAtStart > BUSY_LOAD) console.log(busyWarning(machine.loadAverage1mAtStart));
  const tmp = mkdtempSync(join(tmpdir(), "grpomesh-bench-peer-"));
  const reports: SizeReport[] = [];
  try {
    for (const size of sizes) {
      const report = await runSize(size, {
        ...o,
        generator: resolve(ROOT, o.generator),
        judge_model: resolve(ROOT, o.judge_model),
        modes,
        threads,
        python: found.python,
        peer_threads: peerThreads,
        tmp: join(tmp, size),
        micro_batch_size: microBatch ?? (engineName === "tfjs" ? AUTO_MICRO_BATCH.tfjs[size] : 0),
        engine,
      });
      reports.push(report);
      console.log(formatSizeReport(report));
    }
    machine.loadAverage1mAtEnd = loadavg()[0]!;
    console.log(
      `timings on this shared VM are noisy (other work shares its cores; load average ${machine.loadAverage1mAtStart.toFixed(2)} at the start, ` +
        `${machine.loadAverage1mAtEnd.toFixed(2)} at the end, this bench included): compare ratios within one run, not across runs.`,
    );
    if (machine.loadAverage1mAtStart > BUSY_LOAD) console.log(busyWarning(machine.loadAverage1mAtStart));
    if (o.json) {
      writeFileSync(o.json, JSON.stringify({ machine, time: new Date().toISOString(), sizes: reports }, null, 2) + "\n");
      console.log(`results written to ${o.json}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** One size's run: the settings, with threads, python and the micro-batch resolved and paths absolute. */
type SizeOptions = Omit<PeerBenchConfig, "modes" | "micro_batch_size" | "engine" | "size"> & {
  modes: PeerMode[];
  micro_batch_size: number;
  engine?: EngineChoice;
  tmp: string;
};

async function runSize(size: SizeName, o: SizeOptions): Promise<SizeReport> {
  // The engines load only here, so `--help` and the torch probe stay quick.
  const { loadCorpus } = await import("@grpomesh/data");
  const { initBackend, loadConfig, saveCheckpoint, parameterCount } = await import("@grpomesh/model");
  const { checkGrpoConfig } = await import("@grpomesh/loop");
  const { InProcessJudge, benchData, benchGrpoConfig, buildInProcessTrainer, corpusBatches, measureSteps } = await import("./step.ts");

  mkdirSync(o.tmp, { recursive: true });
  await initBackend(undefined, { log: false }); // tfjs makes the random models
  const corpus = loadCorpus();
  const config = { ...benchGrpoConfig(o.batch_size, o.group_size), micro_batch_size: o.micro_batch_size };
  checkGrpoConfig(config);

  const { generator, generatorNote, judgeModel, judge, judgeNote } = await benchModelsAt(size, o.tmp, o.generator, o.judge_model, corpus.vocab.tokens);
  const modelConfig = loadConfig(generator);
  const T = modelConfig.seq_len;
  const judgeDir = join(o.tmp, "judge");
  saveCheckpoint(judgeDir, { config: judge.config, weights: judge.weights });

  // The batches both sides train on: the trainer's data stream, replayed from the same seed.
  const count = o.warmup + o.steps;
  const data = benchData(corpus, T, config);
  const ids = new Int32Array(count * config.batch_size * T);
  for (let s = 0; s < count; s++) ids.set(data.next().inputs, s * config.batch_size * T);
  const inputsPath = join(o.tmp, "inputs.i32");
  writeFileSync(inputsPath, ids);

  const p = modelConfig;
  const model = `${p.n_layer} layers, d_model ${p.d_model}, ${p.n_head} heads, d_ff ${p.d_ff}, T=${T}, V=${p.vocab_size} (${(parameterCount(p) / 1e6).toFixed(2)}M parameters), generator ${generatorNote}`;
  console.log(`size ${size}: ${model}`);

  const job = {
    generator,
    judge: judgeDir,
    inputs: inputsPath,
    steps: o.steps,
    warmup: o.warmup,
    batch_size: config.batch_size,
    threads: o.peer_threads,
    seed: config.seed,
    hp: {
      group_size: config.group_size,
      temperature: config.temperature,
      top_p: config.top_p,
      kl_beta: config.kl_beta,
      learning_rate: config.learning_rate,
      warmup_iters: config.warmup_iters,
      max_iters: config.max_iters,
      min_lr_ratio: config.min_lr_ratio,
      weight_decay: config.weight_decay,
      beta1: config.beta1,
      beta2: config.beta2,
      adam_eps: config.adam_eps,
      grad_clip: config.grad_clip,
      std_floor: config.std_floor,
    },
  };
  if (config.advantage_norm !== "global" || config.kl_estimator !== "exact" || config.token_reduction !== "sum" || config.ppo_epochs !== 1) {
    throw new Error("the peer implements the seed's loss only (global advantages, exact KL, token sum, one PPO epoch); the bench config differs");
  }

  // Same model on both sides, checked before anything is timed.
  console.log("  checking that both sides compute the same logits and judge scores …");
  const check = { logits: join(o.tmp, "check-logits.f32"), scores: join(o.tmp, "check-scores.f32") };
  await runPeer(o.python, join(o.tmp, "check.json"), { ...job, modes: [], check }, []);
  const first = ids.subarray(0, config.batch_size * T);
  const inproc = await buildInProcessTrainer({ generator, judgeModel, ...corpusBatches(corpus, config), config, engine: o.engine, threads: o.threads });
  const { policy, reference } = inproc;
  const engines =
    policy.backend.description === reference.backend.description
      ? `${policy.backend.description} policy and reference (${policy.selection.reason || `asked for ${policy.selection.engine}`})`
      : `policy ${policy.backend.description}, reference ${reference.backend.description}`;
  let records;
  let logitsDiff = NaN,
    scoresDiff = NaN;
  try {
    // The engine that is timed is the one checked (its logits before any update).
    logitsDiff = maxAbsDiff(await policy.backend.logits(first, config.batch_size, T), readF32(check.logits), "logits");
    const ortJudge = await InProcessJudge.open(judgeModel, o.threads);
    const ourScores = (await ortJudge.score(first, { count: config.batch_size, seqLen: T, groupSize: 1 })).scores;
    await ortJudge.release();
    scoresDiff = maxAbsDiff(ourScores, readF32(check.scores), "judge scores");
    if (!(logitsDiff <= CHECK_TOLERANCE && scoresDiff <= CHECK_TOLERANCE)) {
      throw new Error(
        `the PyTorch peer does not compute our model: max |Δ| logits ${logitsDiff}, judge scores ${scoresDiff}; expected ≤ ${CHECK_TOLERANCE}. ` +
          `Its timings would not compare like with like: fix tools/bench/peer/grpo_peer.py (weight layout, LayerNorm eps, gelu) before reading them.`,
      );
    }
    console.log(`  ours (in-process): ${engines}; onnxruntime judge with ${o.threads} thread(s):`);
    records = await measureSteps(inproc.trainer, o.warmup, o.steps);
  } finally {
    await inproc.close();
  }
  const ourMedians: PhaseTimes = {};
  for (const phase of PHASES) ourMedians[phase] = median(records.map((r) => r.phases[`${phase}_ms`]));

  console.log(`  PyTorch peer (${o.modes.join(", ")}), ${o.peer_threads} thread(s):`);
  const peer = await runPeer(o.python, join(o.tmp, "job.json"), { ...job, modes: o.modes }, o.modes);
  const ratios: Partial<Record<PeerMode, number>> = {};
  for (const m of o.modes) ratios[m] = peer.modes[m]!.median_ms.step! / ourMedians.step!;
  return {
    size,
    model,
    batchSize: config.batch_size,
    groupSize: config.group_size,
    warmup: o.warmup,
    steps: o.steps,
    judge: judgeNote,
    ours: {
      engine: `${engines}, onnxruntime judge`,
      microBatchSize: config.micro_batch_size,
      median_ms: ourMedians,
      steps_ms: records.map((r) => r.phases.step_ms),
    },
    peer,
    check: { logitsMaxAbsDiff: logitsDiff, scoresMaxAbsDiff: scoresDiff },
    ratios,
  };
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Runs grpo_peer.py on a job file; its stderr (progress) passes through, its stdout is the result. */
async function runPeer(python: string, jobPath: string, job: object, modes: readonly PeerMode[]): Promise<PeerOutput> {
  writeFileSync(jobPath, JSON.stringify(job, null, 2));
  const child = spawn(python, [PEER_SCRIPT, `--job=${jobPath}`], { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`the PyTorch peer (${python} ${PEER_SCRIPT}) exited with status ${code}; see its messages above`);
  return parsePeerOutput(stdout, modes);
}

/**
 * The models a bench runs at `size`: the bundled generator at the default size, else one random
 * initialisation (seed 1) saved under `tmp`; the bundled judge where its seq_len matches, else random
 * weights (seed 2) of its architecture at the generator's T, exported to ONNX under `tmp`. tfjs
 * must be initialised (it makes the random models).
 */
export async function benchModelsAt(
  size: SizeName,
  tmp: string,
  bundledGenerator: string,
  bundledJudge: string,
  vocab: readonly string[],
): Promise<{
  generator: string;
  generatorNote: string;
  judgeModel: string;
  judge: { config: ModelConfig; weights: Weights; version?: string };
  judgeNote: string;
}> {
  const { MaskedTransformer, defaultGeneratorConfig, loadConfig } = await import("@grpomesh/model");
  const { exportModelToOnnx } = await import("@grpomesh/onnx-export");
  let generator = bundledGenerator;
  let generatorNote = generator;
  if (size !== "default" || !existsSync(join(generator, "config.json"))) {
    generator = join(tmp, `generator-${size}`);
    const model = new MaskedTransformer(defaultGeneratorConfig([...vocab], size === "reference" ? REFERENCE_ARCH : {}), { seed: 1 });
    model.save(generator);
    model.dispose();
    generatorNote = "randomly initialised (seed 1)";
  }
  const T = loadConfig(generator).seq_len;
  const bundled = checkpointFromOnnx(readFileSync(bundledJudge), bundledJudge);
  let judgeModel = bundledJudge;
  let judge = bundled;
  let judgeNote = `${bundledJudge} (${bundled.version ?? "unversioned"})`;
  if (bundled.config.seq_len !== T) {
    const randomConfig = { ...bundled.config, seq_len: T };
    const model = new MaskedTransformer(randomConfig, { seed: 2 });
    judge = { config: randomConfig, weights: model.getWeights(), version: `random-T${T}` };
    model.dispose();
    judgeModel = join(tmp, `judge-T${T}.onnx`);
    writeFileSync(judgeModel, exportModelToOnnx(judge.config, judge.weights, { version: judge.version }));
    judgeNote = `random weights (seed 2) of the bundled judge's architecture at seq_len ${T}: the bundled judge's seq_len is ${bundled.config.seq_len}`;
  }
  return { generator, generatorNote, judgeModel, judge, judgeNote };
}
