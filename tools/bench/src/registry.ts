// The benchmarks `npm run bench -- <name>` knows. Add one: a settings table in settings.ts, a
// module exporting `run(config)`, and a line here.
import type { Table, Values } from "@grpomesh/config";
import {
  ENGINE_BENCH_SETTINGS,
  FLEET_BENCH_SETTINGS,
  fleetRelations,
  GPU_BENCH_SETTINGS,
  JUDGE_BENCH_SETTINGS,
  PEER_BENCH_SETTINGS,
  QUANT_BENCH_SETTINGS,
  STEP_BENCH_SETTINGS,
  TASKS_BENCH_SETTINGS,
} from "./settings.ts";

export interface BenchEntry<T extends Table = Table> {
  summary: string;
  settings: T;
  check?(config: Values<T>): string[];
  load(): Promise<{ run(config: Values<T>): Promise<void> }>;
}

const bench = <T extends Table>(entry: BenchEntry<T>): BenchEntry => entry as unknown as BenchEntry;

/** Every bench reads BENCH_<KEY> environment variables. */
export const BENCH_ENV_PREFIX = "BENCH_";

export const BENCHES: Record<string, BenchEntry> = {
  judge: bench({
    summary: "Score throughput (sequences/s) and p50/p99 latency of a real judge process on loopback",
    settings: JUDGE_BENCH_SETTINGS,
    load: () => import("./judge.ts"),
  }),
  fleet: bench({
    summary: "What training sees of its judges: a step's sequences through JudgeFleet over 1, 2, … replicas (seq/s, step latency), and model swap times",
    settings: FLEET_BENCH_SETTINGS,
    check: fleetRelations,
    load: () => import("./fleet.ts"),
  }),
  step: bench({
    summary: "GRPO step time by phase (sample, judge, reference, update), in-process and over gRPC, and the RPC share",
    settings: STEP_BENCH_SETTINGS,
    load: () => import("./step.ts"),
  }),
  quant: bench({
    summary:
      "The int8 judge (npm run judge -- quantize) against its fp32 original on sampled held-out completions: Spearman, same best member of each group, sequences/s of each",
    settings: QUANT_BENCH_SETTINGS,
    load: () => import("./quant.ts"),
  }),
  engine: bench({
    summary:
      "Forward and training-step (GRPO loss + gradients + AdamW) time and GFLOP/s of every training engine (onnx, tfjs), default and reference sizes, against our goals (training step ≥ 80 GFLOP/s, forward ≥ 120 at the reference size)",
    settings: ENGINE_BENCH_SETTINGS,
    load: () => import("./engine.ts"),
  }),
  gpu: bench({
    summary:
      "GPU (webgpu; cuda when installed) against the CPU provider: the adapter, judge sequences/s, a training step's time and the whole GRPO step's time, default and reference sizes",
    settings: GPU_BENCH_SETTINGS,
    load: () => import("./gpu.ts"),
  }),
  peer: bench({
    summary: "Our GRPO step against the seed's algorithm in PyTorch (repeat-k and one-forward-per-group), same model and batches; the ratios",
    settings: PEER_BENCH_SETTINGS,
    load: () => import("./peer.ts"),
  }),
  tasks: bench({
    summary:
      "What GRPO does to a task's quality: npm start once per seed (held-out solved and per-cell accuracy before → after, wall time), mean ± sd, and the same wall time of more supervised pretraining",
    settings: TASKS_BENCH_SETTINGS,
    load: () => import("./tasks.ts"),
  }),
};

export function benchUsage(): string {
  const lines = Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(10)} ${b.summary}`);
  return ["usage: npm run bench -- <name> [--key=value …]   (--help after the name lists its settings)", "benches:", ...lines].join("\n");
}
