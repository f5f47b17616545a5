// `npm run bench -- gpu`: a GPU execution provider (webgpu; cuda where installed) against the CPU
// provider on one machine, at the default and reference sizes: which adapter serves, which graph
// nodes fell back to the CPU, judge sequences/s, a training step (forward + GRPO loss + backward +
// AdamW) and the whole GRPO step in one process (sample, judge, reference, update). The device
// script tools/bench/device/gpu-check.sh runs it on a lent GPU machine.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Rng, mixSeeds } from "@grpomesh/rng";
import { ROOT, SIZE_BATCH, maskedCorpusBatch, measureEngine, progressWriter, seededWeights, sizeConfig } from "./engine.ts";
import { benchModelsAt } from "./peer.ts";
import type { GpuBenchConfig, SizeName } from "./settings.ts";
import { formatMarkdownTable, formatTable, mean, median } from "./stats.ts";
import type { Placement } from "@grpomesh/onnx-export/placement";

export interface ProviderResult {
  provider: string;
  /** What serves: "webgpu on NVIDIA H200 (…)" or "cpu". */
  serves?: string;
  /** Graph nodes onnxruntime left on the CPU provider (GPU providers), in one line. */
  placement?: string;
  /** The same per graph, as counts. */
  placements?: Readonly<Record<string, Placement>>;
  /** Why it was not (fully) measured. */
  problem?: string;
  forward_s?: number;
  train_s?: number;
  judge_batch_s?: number;
  judge_seq_per_s?: number;
  /** Mean whole GRPO step and its phases, ms. */
  step_ms?: number;
  phases_ms?: Record<string, number>;
}

export interface GpuSizeReport {
  size: SizeName;
  model: string;
  engineBatch: number;
  stepBatch: number;
  groupSize: number;
  judge: string;
  results: ProviderResult[];
}

const PHASES = ["sample_ms", "judge_ms", "reference_ms", "update_ms"] as const;
const num = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits));
const ratio = (base: number | undefined, x: number | undefined, higherIsBetter = false) =>
  base === undefined || x === undefined || !(base > 0) || !(x > 0) ? "" : ` (${(higherIsBetter ? x / base : base / x).toFixed(2)}×)`;

/** One size's markdown table; ratios are speed-ups over the first provider (> 1: faster). */
export function formatGpuReport(r: GpuSizeReport): string {
  const base = r.results[0];
  const rows = r.results.map((p) => [
    p.provider,
    p.serves ?? "—",
    `${num(p.judge_seq_per_s, 0)}${ratio(base?.judge_seq_per_s, p.judge_seq_per_s, true)}`,
    `${num(p.train_s, 3)}${ratio(base?.train_s, p.train_s)}`,
    `${num(p.forward_s, 3)}${ratio(base?.forward_s, p.forward_s)}`,
    `${num(p.step_ms === undefined ? undefined : p.step_ms / 1000, 3)}${ratio(base?.step_ms, p.step_ms)}`,
    p.phases_ms ? PHASES.map((k) => num(p.phases_ms![k], 0)).join(" / ") : "—",
  ]);
  const lines = [
    `size ${r.size}: ${r.model}; engine batch B=${r.engineBatch}, GRPO step B=${r.stepBatch} k=${r.groupSize}; judge ${r.judge}`,
    formatTable(["provider", "serves", "judge seq/s", "training step s", "forward s", "GRPO step s", "sample / judge / ref / update ms"], rows),
  ];
  for (const p of r.results) {
    if (p.placement) lines.push(`  ${p.provider} placement: ${p.placement}`);
    if (p.problem) lines.push(`  ${p.provider}: ${p.problem}`);
  }
  return lines.join("\n");
}

/** The nodes a GPU provider left on the CPU, per graph ("train 1/508 (Reshape)"), "0" when none, "" when unknown. */
function cpuNodes(placements: Readonly<Record<string, Placement>> | undefined): string {
  if (!placements || !Object.keys(placements).length) return "";
  const parts = Object.entries(placements)
    .filter(([, p]) => (p.byProvider.cpu ?? 0) > 0)
    .map(([graph, p]) => `${graph} ${p.byProvider.cpu}/${p.total} (${[...new Set(p.cpuNodes.map((n) => n.op))].sort().join(", ")})`);
  return parts.length ? parts.join("; ") : "0";
}

/**
 * Every size and provider in one markdown table, the adapters first, for docs: absolute figures and,
 * in brackets, the speed-up over the size's first provider (> 1: faster).
 */
export function formatGpuMarkdown(adapters: string, reports: readonly GpuSizeReport[]): string {
  const rows = reports.flatMap((r) => {
    const base = r.results[0];
    return r.results.map((p) => [
      r.size,
      p.provider,
      `${num(p.judge_seq_per_s, 0)}${ratio(base?.judge_seq_per_s, p.judge_seq_per_s, true)}`,
      `${num(p.train_s, 3)}${ratio(base?.train_s, p.train_s)}`,
      `${num(p.step_ms === undefined ? undefined : p.step_ms / 1000, 3)}${ratio(base?.step_ms, p.step_ms)}`,
      p.phases_ms ? PHASES.map((k) => num(p.phases_ms![k], 0)).join(" / ") : "—",
      p.problem ? `not measured: ${p.problem}` : p.provider === "cpu" ? "" : cpuNodes(p.placements),
    ]);
  });
  const header = ["size", "provider", "judge seq/s", "training step s", "GRPO step s", "sample / judge / ref / update ms", "nodes on the CPU"];
  const sizes = reports.map((r) => `- ${r.size}: ${r.model}; engine batch B=${r.engineBatch}, GRPO step B=${r.stepBatch} k=${r.groupSize}; judge ${r.judge}`);
  return [`Adapter: ${adapters}`, "", formatMarkdownTable(header, rows), "", ...sizes].join("\n");
}

export async function run(o: GpuBenchConfig): Promise<void> {
  const { loadCorpus } = await import("@grpomesh/data");
  const { initBackend, loadConfig, parameterCount } = await import("@grpomesh/model");
  const { createTrainingBackend } = await import("@grpomesh/role-engines");
  const { resolveExecutionProvider, describeSelection } = await import("@grpomesh/onnx-export/providers");
  const { surveyAdapters, describeAdapter } = await import("@grpomesh/onnx-export/gpu-adapter");
  const { InProcessJudge, benchGrpoConfig, buildInProcessTrainer, corpusBatches, measureSteps } = await import("./step.ts");

  const threads = o.threads || availableParallelism();
  const survey = surveyAdapters();
  console.log(
    `bench gpu: ${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} logical CPU(s), node ${process.version}, load average ${loadavg()[0]!.toFixed(2)}; CPU provider threads ${threads}`,
  );
  const adapters = survey.adapters.length ? survey.adapters.map(describeAdapter).join("; ") : `none (${survey.why})`;
  console.log(`Vulkan adapters: ${adapters}`);
  // written after every size, so that a run stopped by a time limit keeps what it measured
  const save = (complete: boolean) => {
    if (o.json)
      writeFileSync(o.json, JSON.stringify({ time: new Date().toISOString(), complete, adapters: survey.adapters, threads, sizes: reports }, null, 2) + "\n");
    if (o.markdown) writeFileSync(o.markdown, formatGpuMarkdown(adapters, reports) + "\n");
  };

  const providers = [...new Set(o.providers.split(",").map((p) => p.trim()))];
  await initBackend(undefined, { log: false }); // tfjs makes the random models of the reference size
  const corpus = loadCorpus();
  const generatorDir = resolve(ROOT, o.generator);
  const tmp = mkdtempSync(join(tmpdir(), "grpomesh-bench-gpu-"));
  const reports: GpuSizeReport[] = [];
  try {
    for (const size of new Set(o.sizes.split(",").map((s) => s.trim() as SizeName))) {
      const models = await benchModelsAt(size, tmp, generatorDir, resolve(ROOT, o.judge_model), corpus.vocab.tokens);
      const config = sizeConfig(size, loadConfig(generatorDir));
      const T = config.seq_len;
      const B = SIZE_BATCH[size];
      const data = await maskedCorpusBatch(corpus, T, B, mixSeeds(o.seed, "bench-gpu-data", size));
      const weights = seededWeights(config, o.seed);
      const rng = new Rng(mixSeeds(o.seed, "bench-gpu-judge", size));
      const judgeIds = Int32Array.from({ length: o.judge_batch * T }, () => 2 + rng.nextInt(config.vocab_size - 2));
      const report: GpuSizeReport = {
        size,
        model: `${config.n_layer} layers, d_model ${config.d_model}, T ${T}, V ${config.vocab_size} (${(parameterCount(config) / 1e6).toFixed(2)}M parameters)`,
        engineBatch: B,
        stepBatch: o.batch_size,
        groupSize: o.group_size,
        judge: `${models.judgeNote}, ${o.judge_batch} sequences per run`,
        results: [],
      };
      console.log(`size ${size}: ${report.model}`);
      for (const provider of providers) {
        const result: ProviderResult = { provider };
        report.results.push(result);
        const p = progressWriter(`${provider} at ${size}`);
        let selection;
        try {
          selection = resolveExecutionProvider(provider);
          result.serves = describeSelection(selection);
        } catch (err) {
          result.problem = (err as Error).message;
          p.done(`not measured: ${result.problem}`);
          continue;
        }
        try {
          // the judge: one session, whole batches, as a replica on this provider runs them
          p.update("judge");
          const judge = await InProcessJudge.open(models.judgeModel, threads, selection.provider === "cpu" ? undefined : 0, selection.sessionProviders);
          try {
            const times: number[] = [];
            for (let i = 0; i < o.warmup + o.runs; i++) {
              const t0 = performance.now();
              await judge.score(judgeIds, { count: o.judge_batch, seqLen: T, groupSize: 1 });
              if (i >= o.warmup) times.push((performance.now() - t0) / 1000);
              p.update(`judge run ${i + 1}/${o.warmup + o.runs}`);
            }
            result.judge_batch_s = median(times);
            result.judge_seq_per_s = o.judge_batch / result.judge_batch_s;
          } finally {
            await judge.release();
          }
          // the training engine alone
          const { backend } = await createTrainingBackend(config, { engine: "onnx", executionProvider: provider, threads });
          try {
            result.placement = backend.placement || undefined;
            result.placements = backend.placements;
            await backend.setWeights(weights);
            const m = await measureEngine(
              backend,
              { config, data, groupSize: o.group_size, microBatch: 0, runs: o.runs, warmup: o.warmup, budgetS: o.budget_s, seed: o.seed },
              p.update,
            );
            result.forward_s = m.forward.median_s;
            result.train_s = m.train.median_s;
          } finally {
            await backend.dispose();
          }
          // the whole GRPO step in this process: policy, reference and judge on this provider
          p.update("GRPO steps");
          const grpo = benchGrpoConfig(o.batch_size, o.group_size);
          const inproc = await buildInProcessTrainer({
            generator: models.generator,
            judgeModel: models.judgeModel,
            ...corpusBatches(corpus, grpo),
            config: grpo,
            engine: "onnx",
            threads,
            executionProvider: provider,
          });
          try {
            const records = await measureSteps(inproc.trainer, o.warmup, o.steps);
            result.step_ms = mean(records.map((r) => r.phases.step_ms));
            result.phases_ms = Object.fromEntries(PHASES.map((k) => [k, mean(records.map((r) => r.phases[k]))]));
          } finally {
            await inproc.close();
          }
          p.done(`judge ${num(result.judge_seq_per_s, 0)} seq/s, training step ${num(result.train_s, 3)} s, GRPO step ${num(result.step_ms! / 1000, 3)} s`);
        } catch (err) {
          result.problem = `failed while measuring: ${(err as Error).message}`;
          p.done(result.problem);
        }
      }
      reports.push(report);
      console.log(formatGpuReport(report));
      save(false);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(
    `load average at the end ${loadavg()[0]!.toFixed(2)}: compare ratios within one run; a software adapter (lavapipe) measures that the path works, not a GPU's speed.`,
  );
  console.log(`\n${formatGpuMarkdown(adapters, reports)}\n`);
  save(true);
  for (const file of [o.json, o.markdown]) if (file) console.log(`results written to ${file}`);
}
