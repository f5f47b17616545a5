// `npm run bench -- judge`: sequences/s and p50/p99 latency of Score against a real judge process
// on loopback. For each judge configuration a fresh judge starts; for each concurrency level the
// client sends warm-up requests, then a fixed number of timed ones with that many in flight.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { JudgeService } from "@grpomesh/proto";
import { createClient } from "@grpomesh/rpc";
import { Rng } from "@grpomesh/rng";
import { encodeTensor } from "@grpomesh/tensor";
import { intList, parseFlags } from "./options.ts";
import { formatTable, mean, percentile } from "./stats.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const JUDGE_MAIN = join(ROOT, "services/judge/src/main.ts");
const MAKE_RANDOM_JUDGE = join(ROOT, "services/judge/src/make-random-judge.ts");
const DEFAULT_MODEL = join(ROOT, "models/judge/model.onnx");

const DEFAULTS = {
  model: "",
  batch: 128,
  requests: 40,
  warmup: 5,
  concurrency: "1,4",
  judges: "--scheduler=parallel;--scheduler=microbatch --sessions=1",
  "seq-len": 128,
  seed: 1,
};
const HELP: Partial<Record<keyof typeof DEFAULTS, string>> = {
  model: "ONNX judge (default: models/judge/model.onnx, else a random-weight scorer of the default judge size)",
  batch: "sequences per Score request",
  requests: "timed requests per concurrency level",
  warmup: "untimed requests before each level",
  concurrency: "requests in flight, comma list (e.g. 1,4,8)",
  judges: "judge configurations to compare, ';'-separated, each a space-separated list of judge flags (the judge's defaults fill in the rest)",
  "seq-len": "sequence length when the model's is dynamic",
};

interface JudgeProcess {
  address: string;
  metricsPort: number;
  startLine: string;
  stop(): Promise<void>;
}

/** Spawns services/judge/src/main.ts and resolves once it prints its start line. */
function startJudge(args: string[]): Promise<JudgeProcess> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", JUDGE_MAIN, "--address=127.0.0.1:0", "--metrics-port=0", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let started = false;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("judge: serving "));
      if (started || !line) return;
      started = true;
      const address = /address=(\S+)/.exec(line)?.[1];
      const metricsPort = Number(/metrics=:(\d+)/.exec(line)?.[1]);
      if (!address || !metricsPort) return reject(new Error(`cannot read address and metrics port from the judge's start line: ${line}`));
      resolve({
        address,
        metricsPort,
        startLine: line,
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      });
    });
    child.once("exit", (code) => {
      if (!started) reject(new Error(`judge exited with code ${code} before serving:\n${err || out}`));
    });
  });
}

/** Sum of `<name>_sum` and `<name>_count` over every label set in the judge's /metrics. */
async function histogramTotals(metricsPort: number, name: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const total = (suffix: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith(`${name}_${suffix} `) || l.startsWith(`${name}_${suffix}{`))
      .reduce((acc, l) => acc + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  return { sum: total("sum"), count: total("count") };
}

function resolveModel(flag: string): { path: string; what: string; cleanup(): void } {
  if (flag) return { path: flag, what: `${flag} (--model)`, cleanup: () => {} };
  if (existsSync(DEFAULT_MODEL)) return { path: DEFAULT_MODEL, what: "models/judge/model.onnx (the project's trained judge)", cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), "bench-judge-"));
  return { path: join(dir, "random-judge.onnx"), what: "", cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function runProcess(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${args.join(" ")} exited with ${code}: ${out}`))));
  });
}

export async function run(argv: string[]): Promise<void> {
  const o = parseFlags(argv, DEFAULTS, HELP);
  const concurrencies = intList("concurrency", o.concurrency);
  const judges = o.judges.split(";").map((j) => j.trim().split(/\s+/).filter(Boolean));
  for (const args of judges) {
    const bad = args.find((a) => !/^--[a-z-]+=\S+$/.test(a) || /^--(model|address|metrics-port)=/.test(a));
    if (bad) throw new Error(`--judges has ${JSON.stringify(bad)}; expected judge flags like --scheduler=parallel --sessions=2 (the bench sets --model, --address and --metrics-port itself)`);
  }
  for (const key of ["batch", "requests", "seq-len"] as const) {
    if (!Number.isInteger(o[key]) || o[key] <= 0) throw new Error(`--${key}=${o[key]}; expected a positive integer`);
  }

  const model = resolveModel(o.model);
  try {
    if (!model.what) {
      const made = await runProcess([MAKE_RANDOM_JUDGE, model.path, "--version=random-default", `--seed=${o.seed}`]);
      model.what = `random-weight scorer of the default judge size, exported on the fly (${made.replace(/^wrote \S+ \((.*)\)$/s, "$1")})`;
    }
    const cpu = cpus();
    console.log(`bench judge: ${cpu.length}× ${cpu[0]?.model ?? "unknown CPU"}, node ${process.version}`);
    console.log(`model: ${model.what}`);
    console.log(`requests: batch ${o.batch}, ${o.warmup} warm-up + ${o.requests} timed per level, int32 ids, client and judge on loopback`);

    const rows: string[][] = [];
    for (const args of judges) {
      const judge = await startJudge([`--model=${model.path}`, ...args]);
      const field = (k: string) => new RegExp(`\\b${k}=(\\S+)`).exec(judge.startLine)?.[1]?.replace("(auto)", "") ?? "?";
      // e.g. "parallel 2×1": scheduler, sessions × intra-op threads per session.
      const label = `${field("scheduler")} ${field("sessions")}×${field("threads")}`;
      const client = createClient(JudgeService, judge.address, { deadlineMs: 600_000 });
      try {
        console.log(judge.startLine);
        const info = await client.info({});
        const seqLen = info.seqLen || o["seq-len"];
        const rng = new Rng(o.seed);
        const ids = Int32Array.from({ length: o.batch * seqLen }, () => rng.nextInt(info.vocab.length));
        const tokens = encodeTensor(ids, [o.batch, seqLen]);

        for (const concurrency of concurrencies) {
          const fire = async (count: number, latenciesMs: number[] | null) => {
            let next = 0;
            const worker = async () => {
              while (next < count) {
                next++;
                const t0 = performance.now();
                const res = await client.score({ tokens });
                latenciesMs?.push(performance.now() - t0);
                if (res.scores?.shape[0] !== BigInt(o.batch)) throw new Error(`judge returned ${res.scores?.shape} scores for ${o.batch} sequences`);
              }
            };
            await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
          };
          process.stderr.write(`  ${label} concurrency ${concurrency}: warm-up…`);
          await fire(Math.max(o.warmup, concurrency), null);
          const runsBefore = await histogramTotals(judge.metricsPort, "judge_execution_batch_size");
          const computeBefore = await histogramTotals(judge.metricsPort, "judge_compute_duration_seconds");
          process.stderr.write(` ${o.requests} timed requests…`);
          const latencies: number[] = [];
          const t0 = performance.now();
          await fire(o.requests, latencies);
          const seconds = (performance.now() - t0) / 1000;
          const runsAfter = await histogramTotals(judge.metricsPort, "judge_execution_batch_size");
          const computeAfter = await histogramTotals(judge.metricsPort, "judge_compute_duration_seconds");
          process.stderr.write(" done\n");
          const runs = runsAfter.count - runsBefore.count;
          rows.push([
            label,
            String(concurrency),
            ((o.requests * o.batch) / seconds).toFixed(0),
            percentile(latencies, 50).toFixed(1),
            percentile(latencies, 99).toFixed(1),
            mean(latencies).toFixed(1),
            (runs ? (runsAfter.sum - runsBefore.sum) / runs : NaN).toFixed(0),
            (runs ? ((computeAfter.sum - computeBefore.sum) / runs) * 1000 : NaN).toFixed(1),
          ]);
        }
      } finally {
        client.close();
        await judge.stop();
      }
    }
    console.log(formatTable(["judge (sessions×threads)", "concurrency", "seq/s", "p50 ms", "p99 ms", "mean ms", "rows/run", "run ms"], rows));
  } finally {
    model.cleanup();
  }
}
