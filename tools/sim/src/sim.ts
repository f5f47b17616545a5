// One simulated run: the stack started across the Network's hosts (startStack's `place` hook), the
// judges reached from the training host directly or through the delaying proxy, the orchestrator
// on the training host; then its log.jsonl summarised. And the comparison table over runs.
import { existsSync } from "node:fs";
import { LOG_FILE, readLog } from "@grpomesh/loop";
import { join } from "node:path";
import { ROOT, Supervisor, freePort, judgesFlag, runJob, startStack, type ProcessSpec, type Stack } from "@grpomesh/launcher";
import { createLocalCredentials } from "@grpomesh/rpc";
import type { Network } from "./netns.ts";

export interface RunSpec {
  net: Network;
  /** The reference runs on the judges' host instead of the training host. */
  referenceWithJudges: boolean;
  runDir: string;
  generator: string;
  judgeModel: string;
  judges: number;
  runConfig: string;
  /** Flags for the reference (the task's --dataset_meta). */
  referenceFlags: string[];
  /** The orchestrator's flags from the command line, and the compared setting's value and the seed (they win). */
  orchestratorArgv: string[];
  overrides: Record<string, string>;
  latencyMs: number;
  /** performance.now() past which the run is stopped. */
  deadline: number;
  log: (line: string) => void;
  /** Where the supervisor is kept while the run lives, so a signal handler can stop it. */
  onSupervisor?: (sup: Supervisor | null) => void;
  /** True once the simulation was asked to stop (Ctrl-C): a run whose orchestrator has not started yet does not start it. */
  stopRequested?: () => boolean;
}

export interface RunSummary {
  overrides: Record<string, string>;
  latency_ms: number;
  steps: number;
  /** Steps per second over the steps after the warm-up: 1000 / mean step_ms (evaluations and checkpoints between steps not counted). */
  steps_per_s: number;
  /** The run's wall time, start to end, as its end record says. */
  wall_s: number;
  heldout_reward: number;
  heldout_solved: number;
  heldout_accuracy: number;
  idle: { policy: number; reference: number; judge: number };
  staleness: number;
  importance_weight_mean: number;
  completed: boolean;
}

const PROXY_SCRIPT = join(ROOT, "tools/sim/src/proxy-main.ts");

/** Runs one configuration to its end; null when a stop was asked for, or the time limit passed, before its orchestrator started. */
export async function runOne(s: RunSpec, warmup: number): Promise<RunSummary | null> {
  const { train, judges } = s.net.hosts;
  const sup = new Supervisor(join(s.runDir, "logs"));
  s.onSupervisor?.(sup);
  try {
    const credentials = await createLocalCredentials(join(s.runDir, "secrets"), { ips: [...new Set([train.ip, judges.ip])] });
    const pinned = train.cpus !== null;
    const stack: Stack = await startStack(
      {
        generator: s.generator,
        judgeModel: s.judgeModel,
        judges: s.judges,
        logDir: join(s.runDir, "logs"),
        credentials,
        checkpointRoot: s.runDir,
        // one core a host: one onnxruntime thread each (judges have one already)
        ...(pinned ? { threads: 1 } : {}),
        flags: { reference: s.referenceFlags },
        place: (role) => {
          const host = role === "judge" || (role === "reference" && s.referenceWithJudges) ? judges : train;
          // the training host's services are reached on its own loopback
          return { bindHost: host === train ? "127.0.0.1" : host.ip, wrap: s.net.wrap(host) };
        },
      },
      sup,
    );
    // The other host's services as the orchestrator reaches them: across the link, through a delaying proxy on the training host when asked.
    let fleets = stack.judgeFleets;
    let referenceAddress = stack.reference;
    if (s.latencyMs > 0) {
      const ports = new Map<string, string>();
      const remote = [...stack.judges, ...(s.referenceWithJudges ? [stack.reference] : [])];
      const specs: ProcessSpec[] = remote.map((address, i) => ({
        name: `proxy-${i}`,
        command: s.net.wrap(train)[0]!,
        args: [...s.net.wrap(train).slice(1), process.execPath, "--import", "tsx", PROXY_SCRIPT, `--delay_ms=${s.latencyMs}`, `127.0.0.1:0=${address}`],
        readyLine: /^proxy: serving /,
      }));
      await sup.startAll(specs, {
        onReady: (name, _ms, p) => {
          const m = /^proxy: serving (\S+) -> (\S+)/.exec(p.startLine ?? "");
          if (m) ports.set(m[2]!, m[1]!);
        },
      });
      fleets = fleets.map((f) => ({ ...f, addresses: f.addresses.map((a) => ports.get(a) ?? a) }));
      referenceAddress = ports.get(stack.reference) ?? stack.reference;
    }
    const flags = stack.orchestratorFlags.filter((f) => !f.startsWith("--judges=") && !f.startsWith("--reference="));
    const overridden = new Set(Object.keys(s.overrides));
    const argv = s.orchestratorArgv.filter((a) => !overridden.has(a.replace(/^--/, "").split("=")[0]!.replace(/-/g, "_")));
    const orchestrator: ProcessSpec = {
      name: "orchestrator",
      command: s.net.wrap(train)[0]!,
      args: [
        ...s.net.wrap(train).slice(1),
        process.execPath,
        "--import",
        "tsx",
        join(ROOT, "services/orchestrator/src/main.ts"),
        `--config=${s.runConfig}`,
        ...flags,
        `--judges=${judgesFlag(fleets)}`,
        `--reference=${referenceAddress}`,
        `--address=127.0.0.1:${await freePort()}`,
        "--metrics_port=off",
        `--run_dir=${s.runDir}`,
        "--progress=log",
        "--log_every=50",
        ...argv,
        ...Object.entries(s.overrides).map(([k, v]) => `--${k}=${v}`),
      ],
    };
    // A signal that came while the services started found no orchestrator to stop; nothing is awaited from here to runJob's start.
    const left = s.deadline - performance.now();
    if (s.stopRequested?.() || left <= 0) return null;
    const timer = setTimeout(() => {
      s.log("sim: time limit reached: stopping the run after its current step");
      sup.signal("orchestrator", "SIGINT");
    }, left);
    try {
      const outcome = await runJob(sup, orchestrator, { graceMs: 30_000, onDeath: (died) => s.log(`sim: ${died.message}`) });
      if (outcome.died) throw new Error(`${outcome.died.processName} died: ${outcome.died.message}`);
      if (outcome.code !== 0 && outcome.code !== 130)
        throw new Error(`the orchestrator exited with code ${outcome.code} (log: ${join(s.runDir, "logs", "orchestrator.log")})`);
    } finally {
      clearTimeout(timer);
    }
    return { ...summarizeRun(s.runDir, warmup), overrides: s.overrides, latency_ms: s.latencyMs };
  } finally {
    await sup.stopAll(5_000);
    s.onSupervisor?.(null);
  }
}

type Rec = Record<string, unknown> & { type: string; step: number };

/** A run directory's steps/s, wall time, final held-out numbers, idle fractions and staleness. */
export function summarizeRun(runDir: string, warmup: number): Omit<RunSummary, "overrides" | "latency_ms"> {
  const path = join(runDir, LOG_FILE);
  if (!existsSync(path)) throw new Error(`${path} does not exist: the run wrote no log`);
  const records = readLog(path).records as Rec[];
  const steps = records.filter((r) => r.type === "step");
  const counted = steps.slice(Math.min(warmup, Math.max(0, steps.length - 1)));
  const mean = (f: (r: Rec) => number) => counted.reduce((a, r) => a + f(r), 0) / Math.max(1, counted.length);
  const evals = records.filter((r) => r.type === "eval");
  const last = evals.at(-1);
  const end = records.filter((r) => r.type === "end").at(-1);
  const idle = (role: string) => mean((r) => ((r.idle_fraction as Record<string, number> | undefined)?.[role] ?? Number.NaN) as number);
  return {
    steps: steps.length,
    steps_per_s: 1000 / mean((r) => (r.phases as { step_ms: number }).step_ms),
    wall_s: (end?.wall_s as number | undefined) ?? Number.NaN,
    heldout_reward: (last?.mean_reward as number | undefined) ?? Number.NaN,
    heldout_solved: (last?.solve_rate as number | undefined) ?? Number.NaN,
    heldout_accuracy: (last?.accuracy as number | undefined) ?? Number.NaN,
    idle: { policy: idle("policy"), reference: idle("reference"), judge: idle("judge") },
    staleness: mean((r) => (r.staleness as number | undefined) ?? 0),
    importance_weight_mean: mean((r) => (r.importance_weight_mean as number | undefined) ?? 1),
    completed: end?.reason === "finished",
  };
}

const meanSd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return { m, sd };
};

/** One row per (compared value, latency): mean ± sd over the seeds, and steps/s as a ratio to the first value's at the same latency. */
export function comparisonTable(runs: RunSummary[], key: string | null): string {
  const groups = new Map<string, RunSummary[]>();
  for (const r of runs) {
    const id = `${key ? r.overrides[key] : "-"}|${r.latency_ms}`;
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  const base = new Map<number, number>();
  const rows: string[][] = [];
  for (const [id, rs] of groups) {
    const [value, latency] = id.split("|") as [string, string];
    const sps = meanSd(rs.map((r) => r.steps_per_s));
    if (!base.has(Number(latency))) base.set(Number(latency), sps.m);
    const pm = (xs: number[], digits: number, scale = 1) => {
      const { m, sd } = meanSd(xs.map((x) => x * scale));
      return rs.length > 1 ? `${m.toFixed(digits)} ± ${sd.toFixed(digits)}` : m.toFixed(digits);
    };
    rows.push([
      key ? `${key}=${value}` : "run",
      `${latency} ms`,
      String(rs.length),
      pm(
        rs.map((r) => r.steps_per_s),
        2,
      ),
      `${(sps.m / base.get(Number(latency))!).toFixed(2)}×`,
      pm(
        rs.map((r) => r.heldout_reward),
        4,
      ),
      pm(
        rs.map((r) => r.heldout_solved),
        1,
        100,
      ),
      (["policy", "reference", "judge"] as const)
        .map((role) =>
          pm(
            rs.map((r) => r.idle[role]),
            2,
          ),
        )
        .join(" / "),
      pm(
        rs.map((r) => r.staleness),
        2,
      ),
    ]);
  }
  const head = ["run", "latency", "seeds", "steps/s", "ratio", "held-out reward", "held-out solved %", "idle policy / reference / judge", "staleness"];
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}
