// `npm run bench -- judge`: sequences/s and p50/p99 latency of Score against a real judge process
// on loopback. For each judge configuration a fresh judge starts; for each concurrency level the
// client sends warm-up requests, then a fixed number of timed ones with that many in flight.
import { cpus } from "node:os";
import { JudgeService } from "@grpomesh/proto";
import { createClient } from "@grpomesh/rpc";
import { Rng } from "@grpomesh/rng";
import { encodeTensor } from "@grpomesh/tensor";
import { benchModel, histogramTotals, judgeConfigurations, judgeLabel, startJudge } from "./judge-process.ts";
import type { JudgeBenchConfig } from "./settings.ts";
import { formatTable, mean, percentile } from "./stats.ts";

export async function run(o: JudgeBenchConfig): Promise<void> {
  const concurrencies = o.concurrency.split(",").map(Number);
  const judges = judgeConfigurations(o.judges);

  const model = await benchModel(o.model, o.seed);
  try {
    const cpu = cpus();
    console.log(`bench judge: ${cpu.length}× ${cpu[0]?.model ?? "unknown CPU"}, node ${process.version}`);
    console.log(`model: ${model.what}`);
    console.log(`requests: batch ${o.batch}, ${o.warmup} warm-up + ${o.requests} timed per level, int32 ids, client and judge on loopback`);

    const rows: string[][] = [];
    for (const args of judges) {
      const judge = await startJudge([`--model=${model.path}`, ...args]);
      const label = judgeLabel(judge.startLine);
      const client = createClient(JudgeService, judge.address, { deadlineMs: 600_000, security: judge.security });
      try {
        console.log(judge.startLine);
        const info = await client.info({});
        const seqLen = info.seqLen || o.seq_len;
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
