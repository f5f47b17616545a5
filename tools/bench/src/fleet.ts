// `npm run bench -- fleet`: what training sees of its judges. Real judge processes (1, then 2
// replicas, …) behind the orchestrator's JudgeFleet, which cuts each step's B·k sequences into
// whole-group chunks over the replicas: step latency and sequences/s, one step at a time as the
// GRPO loop sends them. Then how long a model swap takes: LoadModel on each replica by itself, and
// the fleet's swapModel over all of them.
import { cpus, loadavg } from "node:os";
import { JudgeService } from "@grpomesh/proto";
import { createClient } from "@grpomesh/rpc";
import { Rng } from "@grpomesh/rng";
import { JudgeFleet } from "@grpomesh/orchestrator";
import { benchModel, judgeConfigurations, judgeLabel, startJudge, type JudgeProcess } from "./judge-process.ts";
import type { FleetBenchConfig } from "./settings.ts";
import { formatTable, mean, percentile } from "./stats.ts";

export async function run(o: FleetBenchConfig): Promise<void> {
  const replicaCounts = o.replicas.split(",").map(Number);
  const judges = judgeConfigurations(o.judges);

  const model = await benchModel(o.model, o.seed);
  try {
    const cpu = cpus();
    console.log(`bench fleet: ${cpu.length}× ${cpu[0]?.model ?? "unknown CPU"}, node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}`);
    console.log(`model: ${model.what}`);
    console.log(
      `steps: ${o.sequences} sequences (groups of ${o.group_size}) through JudgeFleet, ${o.warmup} warm-up + ${o.steps} timed, one at a time; judges and the bench on loopback, sharing this machine's CPUs`,
    );

    const stepRows: string[][] = [];
    const swapRows: string[][] = [];
    for (const args of judges) {
      for (const n of replicaCounts) {
        process.stderr.write(`  ${args.join(" ") || "(judge defaults)"} × ${n} replica(s): starting…`);
        const procs: JudgeProcess[] = [];
        try {
          procs.push(...(await Promise.all(Array.from({ length: n }, () => startJudge([`--model=${model.path}`, ...args])))));
          const label = judgeLabel(procs[0]!.startLine);
          const { step, swap } = await measure(procs, model.path, o);
          const chunk = Math.ceil(o.sequences / o.group_size / n) * o.group_size;
          stepRows.push([
            label,
            String(n),
            String(chunk),
            (o.sequences / (mean(step) / 1000)).toFixed(0),
            percentile(step, 50).toFixed(0),
            percentile(step, 99).toFixed(0),
            mean(step).toFixed(0),
          ]);
          if (swap.loadWallMs.length) {
            swapRows.push([
              label,
              String(n),
              percentile(swap.loadWallMs, 50).toFixed(0),
              percentile(swap.serverLoadMs, 50).toFixed(0),
              mean(swap.fleetSwapMs).toFixed(0),
              (mean(swap.fleetSwapMs) / n).toFixed(0),
            ]);
          }
        } finally {
          await Promise.all(procs.map((p) => p.stop()));
        }
        process.stderr.write(" done\n");
      }
    }
    console.log(formatTable(["judge (sessions×threads)", "replicas", "seqs/chunk", "seq/s", "step p50 ms", "step p99 ms", "step mean ms"], stepRows));
    if (swapRows.length) {
      console.log("");
      console.log(formatTable(["judge (sessions×threads)", "replicas", "LoadModel p50 ms", "its load_ms p50", "swapModel ms", "per replica ms"], swapRows));
    }
  } finally {
    model.cleanup();
  }
}

interface Measured {
  /** Wall time of each timed step, ms. */
  step: number[];
  swap: { loadWallMs: number[]; serverLoadMs: number[]; fleetSwapMs: number[] };
}

async function measure(procs: JudgeProcess[], modelPath: string, o: FleetBenchConfig): Promise<Measured> {
  const security = procs[0]!.security;
  const fleet = new JudgeFleet(
    procs.map((p) => p.address),
    { deadlineMs: 600_000, security },
  );
  const clients = procs.map((p) => createClient(JudgeService, p.address, { deadlineMs: 600_000, security }));
  try {
    const info = await clients[0]!.info({});
    const seqLen = info.seqLen || o.seq_len;
    const rng = new Rng(o.seed);
    const sequences = Int32Array.from({ length: o.sequences * seqLen }, () => rng.nextInt(info.vocab.length));
    const shape = { count: o.sequences, seqLen, groupSize: o.group_size };

    process.stderr.write(" warm-up…");
    for (let i = 0; i < o.warmup; i++) await fleet.score(sequences, shape);
    process.stderr.write(` ${o.steps} steps…`);
    const step: number[] = [];
    for (let i = 0; i < o.steps; i++) {
      const t0 = performance.now();
      const { scores } = await fleet.score(sequences, shape);
      step.push(performance.now() - t0);
      if (scores.length !== o.sequences) throw new Error(`the fleet returned ${scores.length} scores for ${o.sequences} sequences`);
    }

    // Each swap loads the same file under a new version label: a real load beside the old model,
    // contract check, warm-up and switch, at the cost of a model of this size.
    const swap: Measured["swap"] = { loadWallMs: [], serverLoadMs: [], fleetSwapMs: [] };
    if (o.swaps > 0) process.stderr.write(` ${o.swaps} swap rounds…`);
    for (let s = 0; s < o.swaps; s++) {
      for (const client of clients) {
        const t0 = performance.now();
        const res = await client.loadModel({ path: modelPath, version: `bench-direct-${s}` });
        swap.loadWallMs.push(performance.now() - t0);
        swap.serverLoadMs.push(res.loadMs);
      }
      const t0 = performance.now();
      const results = await fleet.swapModel(modelPath, `bench-fleet-${s}`);
      swap.fleetSwapMs.push(performance.now() - t0);
      const failed = results.find((r) => !r.ok);
      if (failed) throw new Error(`the fleet's swap failed at ${failed.address}: ${failed.error}`);
    }
    return { step, swap };
  } finally {
    fleet.close();
    for (const c of clients) c.close();
  }
}
