// One settings table per bench (`npm run bench -- <name> --help` prints its own). A light module:
// the docs generator imports it, and a bench's engines load only when it runs.
import { setting, z, type Values } from "@grpomesh/config";
import { TF_BACKENDS } from "@grpomesh/model/format";
import { TASK_SETTINGS } from "@grpomesh/tasks/settings";
import { DEFAULT_RUN_TOKENS } from "@grpomesh/onnx-export/pieces";

export const ENGINES = ["onnx", "tfjs"] as const;
export type Engine = (typeof ENGINES)[number];
export const SIZE_NAMES = ["default", "reference"] as const;
export type SizeName = (typeof SIZE_NAMES)[number];
export const PEER_MODES = ["repeat", "group"] as const;
export type PeerMode = (typeof PEER_MODES)[number];

const int = (min: number) => z.int().min(min);
/** A comma list whose every item is one of `allowed` (an empty list only when `empty` says what it means). */
const names = (allowed: readonly string[]) =>
  z.string().refine((s) => s.split(",").every((n) => allowed.includes(n.trim())), `a comma list of ${allowed.join(", ")}`);
const counts = z.string().refine((s) => /^\s*[1-9]\d*(\s*,\s*[1-9]\d*)*\s*$/.test(s), "positive integers separated by commas, e.g. 1,4");
const microBatch = z.string().refine((s) => s === "auto" || /^\d+$/.test(s), "auto, 0 (whole batch) or a positive integer");
const judgeFlags = z.string().refine(
  (s) =>
    s.split(";").every((j) =>
      j
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .every((a) => /^--[a-z_-]+=\S+$/.test(a) && !/^--(model|address|metrics[-_]port)=/.test(a)),
    ),
  "judge configurations separated by ';', each judge flags like --scheduler=parallel --sessions=2 (the bench sets --model, --address and --metrics_port itself)",
);

/** The judge a judge bench starts. */
const JUDGE_MODEL = {
  model: setting(z.string(), "", "ONNX judge; empty: models/judge/model.onnx, else a random-weight scorer of the default judge size"),
  seq_len: setting(int(1), 128, "sequence length when the model's is dynamic"),
  seed: setting(z.int(), 1, "seed of the request ids (and of the random-weight model)"),
};
const GROUP_SIZE = setting(int(2), 8, "k completions per input (a group needs members to compare)");
const GENERATOR = setting(z.string().min(1), "models/generator", "generator checkpoint folder (config.json gives the default size and the vocabulary)");
const JUDGE_FILE = setting(z.string().min(1), "models/judge/model.onnx", "ONNX judge (a character judge of the generator's seq_len when it does not fit)");
const JSON_OUT = setting(z.string(), "", "also write the results to this JSON file; empty: no JSON");

export const JUDGE_BENCH_SETTINGS = {
  ...JUDGE_MODEL,
  batch: setting(int(1), 128, "sequences per Score request"),
  requests: setting(int(1), 40, "timed requests per concurrency level"),
  warmup: setting(int(0), 5, "untimed requests before each level"),
  concurrency: setting(counts, "1,4", "requests in flight, comma list (e.g. 1,4,8)"),
  judges: setting(
    judgeFlags,
    "--scheduler=parallel;--scheduler=microbatch --sessions=1",
    "judge configurations to compare, ';'-separated, each a space-separated list of judge flags",
  ),
};

export const FLEET_BENCH_SETTINGS = {
  ...JUDGE_MODEL,
  replicas: setting(counts, "1,2", "judge replicas behind the fleet, comma list (e.g. 1,2,4)"),
  judges: setting(
    judgeFlags,
    "--sessions=1;--sessions=1 --threads=1",
    "judge configurations, ';'-separated, each a space-separated list of judge flags for every replica",
  ),
  sequences: setting(int(1), 128, "sequences per step (B·k; the seed's step is 16 × 8 = 128)"),
  group_size: setting(int(1), 8, "k: chunks hold whole groups"),
  steps: setting(int(1), 12, "timed steps per configuration, one at a time"),
  warmup: setting(int(0), 2, "untimed steps first"),
  swaps: setting(int(0), 3, "swap rounds (each: LoadModel on every replica by itself, then the fleet's swapModel)"),
};
export const fleetRelations = (o: Values<typeof FLEET_BENCH_SETTINGS>): string[] =>
  o.sequences % o.group_size ? [`sequences ${o.sequences} is not a multiple of group_size ${o.group_size}; a step is whole groups`] : [];

export const STEP_BENCH_SETTINGS = {
  generator: GENERATOR,
  judge_model: JUDGE_FILE,
  steps: setting(int(1), 5, "measured steps per engine and mode"),
  warmup: setting(int(0), 1, "unmeasured steps first"),
  batch_size: setting(int(1), 16, "masked inputs per step"),
  group_size: GROUP_SIZE,
  judges: setting(int(1), 2, "judge replicas in the gRPC run"),
  mode: setting(z.enum(["both", "inproc", "grpc"]), "both", "in-process, over gRPC, or both"),
  engines: setting(names(["auto", ...ENGINES]), "onnx,tfjs", "policy/reference engines to measure, in order; the first is compared against the rest"),
  spin_wait: setting(z.boolean(), false, "let the engines' onnxruntime threads spin after a run (the services' --spin_wait)"),
  tls: setting(
    z.enum(["on", "off", "both"]),
    "on",
    "on: mTLS + admin token, as npm start; off: plaintext + admin token; both: off, then on, and TLS's share of the step",
  ),
  judge_quant: setting(
    z.enum(["fp32", "int8", "both"]),
    "both",
    "the in-process step's judge: the fp32 model, its int8 version (npm run judge -- quantize), or each in turn; every in-process step is set against the machine's fp32 compute limit",
  ),
};

export const QUANT_BENCH_SETTINGS = {
  generator: GENERATOR,
  judge_model: JUDGE_FILE,
  batches: setting(int(1), 8, "held-out batches of 16 inputs whose sampled completions are scored (k each)"),
  group_size: GROUP_SIZE,
  keep: setting(z.string(), "", "weight initializers left fp32 in the int8 judge, comma-separated (npm run judge -- quantize --keep)"),
  threads: setting(int(0), 0, "the judge sessions' onnxruntime threads for the throughput runs; 0: one per core"),
  run_tokens: setting(
    int(0),
    DEFAULT_RUN_TOKENS,
    "tokens per onnxruntime run of each judge, as a judge replica's --run_tokens (the int8 judge gains from larger runs); 0: all the sequences in one run",
  ),
  repeats: setting(int(1), 8, "rounds of timed scoring passes over all the sequences, the judges taking turns in each (each one's best counts)"),
  json: JSON_OUT,
};

export const ENGINE_BENCH_SETTINGS = {
  sizes: setting(
    names(SIZE_NAMES),
    "default,reference",
    "comma list of default (the generator's config, B=16) and reference (6 layers, d_model 256, T=256, B=64)",
  ),
  engines: setting(
    z.union([z.literal(""), names(ENGINES)]),
    "",
    "comma list of onnx, tfjs; empty: every engine (one that cannot start is listed with the reason)",
  ),
  runs: setting(int(1), 5, "timed runs per phase (forward, training step); medians"),
  warmup: setting(int(0), 1, "untimed runs first, per phase"),
  budget_s: setting(z.number().min(0), 60, "seconds per phase (warm-up included) after which no further timed run starts, once one is done; 0: always runs"),
  threads: setting(int(0), 0, "onnxruntime intra-op threads; 0: os.availableParallelism() (tfjs-wasm runs one thread under Node)"),
  group_size: GROUP_SIZE,
  micro_batch: setting(
    microBatch,
    "auto",
    "inputs per lossAndGrads call, gradients summed: auto = whole batch, except 4 for tfjs at the reference size; 0 = whole batch",
  ),
  tfjs_backend: setting(z.enum(["", ...TF_BACKENDS]), "", "tfjs backend; empty: initBackend's choice"),
  seed: setting(z.int(), 1, "seed of the random weights, the corpus windows and the sampled completions"),
  json: JSON_OUT,
  generator: GENERATOR,
};

export const PEER_BENCH_SETTINGS = {
  size: setting(z.enum([...SIZE_NAMES, "both"]), "default", "default (the bundled models' size), reference (6 layers, d_model 256, T 256) or both"),
  steps: setting(int(1), 3, "measured steps per side (medians)"),
  warmup: setting(int(0), 1, "unmeasured steps first, per side"),
  batch_size: setting(int(1), 16, "masked inputs per step"),
  group_size: GROUP_SIZE,
  threads: setting(int(0), 0, "threads of the peer's torch, our onnxruntime engines and our judge session; 0: os.availableParallelism()"),
  peer_threads: setting(int(0), 0, "the peer's threads alone, to see how it scales; 0: threads"),
  modes: setting(names(PEER_MODES), "repeat,group", "peer modes: repeat (each input k times) and/or group (one forward per input)"),
  engine: setting(z.enum(["", "auto", ...ENGINES]), "", "our policy/reference engine; empty: the engines' default"),
  micro_batch_size: setting(
    microBatch,
    "auto",
    "inputs per micro-batch in our update: auto = the whole batch, except 4 with tfjs at the reference size; 0 = whole batch",
  ),
  python: setting(z.string(), "", "interpreter that imports torch; empty: /usr/bin/python3, then python3 on PATH"),
  json: JSON_OUT,
  generator: GENERATOR,
  judge_model: JUDGE_FILE,
};

export const TASKS_BENCH_SETTINGS = {
  task: TASK_SETTINGS.task,
  seeds: setting(
    z.string().refine((s) => /^\s*-?\d+(\s*,\s*-?\d+)*\s*$/.test(s), "integers separated by commas, e.g. 1,2,3"),
    "1,2,3",
    "one GRPO run (npm start) per seed, comma list",
  ),
  baseline: setting(
    z.boolean(),
    true,
    "also measure the skeptic's baseline: supervised pretraining from the same base for the runs' mean wall time, evaluated as the runs evaluate",
  ),
  max_iters: setting(int(0), 0, "GRPO steps per run; 0: the run config's"),
  generator: setting(z.string(), "", "the base generator (the runs' policy and reference, the baseline's start); empty: the task's bundled one"),
  judge_model: setting(z.string(), "", "the runs' judge ONNX; empty: the task's bundled one"),
  run_config: setting(z.string(), "", "the runs' config file; empty: the task's (configs/<task>.json)"),
  pretrain_config: setting(z.string(), "", "the baseline's pretraining recipe; empty: configs/pretrain-<task>.json"),
  out: setting(z.string(), "", "folder for the run directories, logs and tasks-bench.json; empty: runs/bench-tasks-<task>-<date-time>"),
};

export const GPU_BENCH_SETTINGS = {
  sizes: setting(
    names(SIZE_NAMES),
    "default,reference",
    "comma list of default (the bundled generator, B=16) and reference (6 layers, d_model 256, T=256; B=16 for the step, 64 for the engine)",
  ),
  providers: setting(
    names(["cpu", "webgpu", "cuda"]),
    "cpu,webgpu",
    "onnxruntime execution providers to measure, in order; the first is the baseline of the ratios",
  ),
  runs: setting(int(1), 3, "timed runs per engine phase (forward, training step) and judge batch; medians"),
  steps: setting(int(1), 3, "timed whole GRPO steps per provider and size (means)"),
  warmup: setting(int(0), 1, "untimed runs and steps first (a GPU's first run compiles its shaders)"),
  budget_s: setting(z.number().min(0), 90, "seconds per engine phase after which no further timed run starts, once one is done; 0: no limit"),
  batch_size: setting(int(1), 16, "masked inputs per GRPO step"),
  group_size: GROUP_SIZE,
  judge_batch: setting(int(1), 128, "sequences per judge run (a step's B·k)"),
  threads: setting(int(0), 0, "onnxruntime intra-op threads on the CPU provider; 0: os.availableParallelism()"),
  seed: setting(z.int(), 1, "seed of the random weights and the batches"),
  json: JSON_OUT,
  markdown: setting(z.string(), "", "also write the markdown table (adapters, every size and provider) to this file; empty: none"),
  generator: GENERATOR,
  judge_model: JUDGE_FILE,
};

export type GpuBenchConfig = Values<typeof GPU_BENCH_SETTINGS>;
export type JudgeBenchConfig = Values<typeof JUDGE_BENCH_SETTINGS>;
export type FleetBenchConfig = Values<typeof FLEET_BENCH_SETTINGS>;
export type StepBenchConfig = Values<typeof STEP_BENCH_SETTINGS>;
export type QuantBenchConfig = Values<typeof QUANT_BENCH_SETTINGS>;
export type EngineBenchConfig = Values<typeof ENGINE_BENCH_SETTINGS>;
export type PeerBenchConfig = Values<typeof PEER_BENCH_SETTINGS>;
export type TasksBenchConfig = Values<typeof TASKS_BENCH_SETTINGS>;
