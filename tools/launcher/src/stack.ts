// The local stack's service processes (judges, reference, policy) on free loopback ports, shared
// by `npm start` and the benchmarks so both run exactly the same services.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Supervisor, freePort, type ProcessSpec } from "./supervisor.ts";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface StackOptions {
  generator: string;
  judgeModel: string;
  judges: number;
  logDir: string;
  /** Policy and reference engine: auto (default; the fastest installed), onnx or tfjs. */
  engine?: string;
  /** Let the policy's and reference's onnxruntime threads spin after a run (--spin_wait). */
  spinWait?: boolean;
  onReady?: (name: string, ms: number, metricsPort: number) => void;
  timeoutMs?: number;
}

export interface Stack {
  supervisor: Supervisor;
  policy: string;
  reference: string;
  judges: string[];
  metricsPorts: Map<string, number>;
}

export function tsxProcess(name: string, script: string, flags: string[], extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return { name, command: process.execPath, args: ["--import", "tsx", join(ROOT, script), ...flags], ...extra };
}

/** Starts the services and resolves once every one answers SERVING (rejects if one dies first). */
export async function startStack(opts: StackOptions, supervisor = new Supervisor(opts.logDir)): Promise<Stack> {
  const metricsPorts = new Map<string, number>();
  const service = async (name: string, script: string, flags: string[]): Promise<[ProcessSpec, string]> => {
    const port = await freePort();
    metricsPorts.set(name, await freePort());
    const address = `127.0.0.1:${port}`;
    return [tsxProcess(name, script, [...flags, `--address=${address}`, `--metrics-port=${metricsPorts.get(name)}`], { healthTarget: address }), address];
  };
  // One onnxruntime session per local replica: the replicas already share this machine's cores
  // with each other and with the policy and reference.
  const judges = await Promise.all(
    Array.from({ length: opts.judges }, (_, i) => service(`judge-${i}`, "services/judge/src/main.ts", [`--model=${opts.judgeModel}`, "--sessions=1", "--threads=1"])),
  );
  const engine = [...(opts.engine ? [`--engine=${opts.engine}`] : []), ...(opts.spinWait ? ["--spin_wait=true"] : [])];
  const reference = await service("reference", "services/reference/src/main.ts", [`--checkpoint=${opts.generator}`, ...engine]);
  const policy = await service("policy", "services/policy/src/main.ts", [`--checkpoint=${opts.generator}`, ...engine]);
  await supervisor.startAll([...judges.map((j) => j[0]), reference[0], policy[0]], {
    timeoutMs: opts.timeoutMs ?? 180_000,
    onReady: (name, ms) => opts.onReady?.(name, ms, metricsPorts.get(name)!),
  });
  return { supervisor, policy: policy[1], reference: reference[1], judges: judges.map((j) => j[1]), metricsPorts };
}

/** What the policy's start line says about its engine, e.g. `policy engine: onnxruntime cpu, 2 threads (auto: …)`. */
export function engineLine(policyLog: string): string {
  const start = readFileSync(policyLog, "utf8").split("\n").find((line) => line.includes("policy: serving"));
  const field = (name: string): string | undefined => {
    const m = start ? new RegExp(` ${name}=(?:"([^"]*)"|(\\S+))`).exec(start) : null;
    return m ? (m[1] ?? m[2]) : undefined;
  };
  const engine = field("engine");
  if (!engine) return `policy engine: see ${policyLog}`;
  const reason = field("engine_reason");
  return `policy engine: ${engine}${reason ? ` (${reason})` : ""}`;
}
