// How many onnxruntime sessions and intra-op threads per session: by default one single-threaded
// session per CPU the judge may use (README, "Concurrency", says why), counting a cgroup CPU
// quota, since a Kubernetes pod limited to 2 CPUs on a 64-core node still sees 64 cores.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { ExecutionProvider } from "@grpomesh/onnx-export/providers";

/** CPUs this process may use: its CPU affinity, capped by a cgroup v2 `cpu.max` quota when one is set. */
export function cpuBudget(cpuMax = readCgroupCpuMax()): number {
  const cpus = availableParallelism();
  if (!cpuMax) return cpus;
  const [quota, period] = cpuMax.trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period ?? 100000);
  if (quota === "max" || !(q > 0) || !(p > 0)) return cpus;
  return Math.max(1, Math.min(cpus, Math.ceil(q / p)));
}

function readCgroupCpuMax(): string | null {
  try {
    return readFileSync("/sys/fs/cgroup/cpu.max", "utf8");
  } catch {
    return null;
  }
}

export interface Parallelism {
  sessions: number;
  threads: number;
  /** Which of the two were chosen here rather than given. */
  auto: { sessions: boolean; threads: boolean };
}

/**
 * Resolves `0` (auto) for sessions and threads. CPU: one session per CPU; threads split the CPUs
 * among the sessions. CUDA and WebGPU: one session (the GPU does the work; more sessions only copy weights).
 */
export function resolveParallelism(requested: { sessions: number; threads: number }, provider: ExecutionProvider, cpus = cpuBudget()): Parallelism {
  const sessions = requested.sessions || (provider === "cpu" ? cpus : 1);
  const threads = requested.threads || Math.max(1, Math.floor(cpus / sessions));
  return { sessions, threads, auto: { sessions: requested.sessions === 0, threads: requested.threads === 0 } };
}
