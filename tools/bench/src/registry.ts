// The benchmarks `npm run bench -- <name>` knows. Add one: a module exporting
// `run(argv: string[]): Promise<void>` and a line here.
export interface BenchModule {
  run(argv: string[]): Promise<void>;
}

export interface BenchEntry {
  summary: string;
  load(): Promise<BenchModule>;
}

export const BENCHES: Record<string, BenchEntry> = {
  judge: {
    summary: "Score throughput (sequences/s) and p50/p99 latency of a real judge process on loopback",
    load: () => import("./judge.ts"),
  },
  fleet: {
    summary: "What training sees of its judges: a step's sequences through JudgeFleet over 1, 2, … replicas (seq/s, step latency), and model swap times",
    load: () => import("./fleet.ts"),
  },
  step: {
    summary: "GRPO step time by phase (sample, judge, reference, update), in-process and over gRPC, and the RPC share",
    load: () => import("./step.ts"),
  },
  engine: {
    summary:
      "Forward and training-step (GRPO loss + gradients + AdamW) time and GFLOP/s of every training engine (onnx, tfjs), default and reference sizes, against issue #6's goals",
    load: () => import("./engine.ts"),
  },
  peer: {
    summary: "Our GRPO step against the seed's algorithm in PyTorch (repeat-k and one-forward-per-group), same model and batches; the ratios",
    load: () => import("./peer.ts"),
  },
};

export function benchUsage(): string {
  const lines = Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(10)} ${b.summary}`);
  return ["usage: npm run bench -- <name> [--flag=value …]   (--help after the name lists its flags)", "benches:", ...lines].join("\n");
}
