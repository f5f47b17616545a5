// `npm run bench -- step`: the GRPO step time by phase (sample, judge, reference, update) for the
// default config, in-process (engines in this process, onnxruntime judge in this process) and over
// gRPC (the same services `npm start` runs, as separate processes on loopback). The difference is
// what the network costs: the RPC share of the step. The gRPC run uses mutual TLS and the admin token
// as `npm start` does; `--tls=both` also runs it over plaintext (token kept) and reports TLS's cost.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { existsSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { readFileSync } from "node:fs";
import { loadCorpus, type Corpus } from "@grpomesh/data";
import { CorpusData } from "@grpomesh/tasks";
import { PolicyEngine, ReferenceEngine, type EngineChoice } from "@grpomesh/role-engines";
import { GRPO_DEFAULTS, GrpoTrainer, grpoDataSeed, type DataPort, type GrpoConfig, type JudgePort, type StepRecord } from "@grpomesh/loop";
import { MaskedTransformer, defaultGeneratorConfig, initBackend, loadConfig } from "@grpomesh/model";
import { inspectJudgeModel } from "@grpomesh/onnx-export";
import { resolveExecutionProvider } from "@grpomesh/onnx-export/providers";
import { onGpuLane } from "@grpomesh/onnx-export/gpu-lane";
import { DEFAULT_RUN_TOKENS, runInPieces } from "@grpomesh/onnx-export/pieces";
import { GrpcPolicy, GrpcReference, JudgeFleet } from "@grpomesh/orchestrator";
import { ROOT, startStack, writeCharacterJudge } from "@grpomesh/launcher";
import type { StepBenchConfig } from "./settings.ts";
import { computeLine, measurePeak, stepFlops } from "./compute.ts";
import { checkpointFromOnnx } from "./peer.ts";
import { quantizeModel } from "@grpomesh/onnx-export/quantize";
import type { ModelConfig } from "@grpomesh/model";
import { formatTable, mean } from "./stats.ts";

const PHASES = ["sample_ms", "judge_ms", "reference_ms", "advantage_ms", "update_ms", "data_ms", "step_ms"] as const;

/** The judge as one onnxruntime session in this process (what a judge replica runs, without gRPC). */
export class InProcessJudge implements JudgePort {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly inputName: string,
    private readonly int64: boolean,
    private readonly version: string,
    private readonly runTokens: number,
    /** The execution provider: this process's WebGPU work takes turns (onGpuLane). */
    private readonly provider: string,
  ) {}

  /** `threads`: onnxruntime's intra-op threads (default: onnxruntime's own choice, all cores). */
  /** `runTokens`: tokens per onnxruntime run, as a judge replica's --run_tokens (0: one run). */
  /** `providers`: the session's execution providers (resolveExecutionProvider's sessionProviders; default the CPU). */
  static async open(path: string, threads?: number, runTokens = DEFAULT_RUN_TOKENS, providers: readonly string[] = ["cpu"]): Promise<InProcessJudge> {
    const bytes = readFileSync(path);
    const info = inspectJudgeModel(bytes);
    const provider = providers[0] ?? "cpu";
    const session = await onGpuLane(provider, () =>
      ort.InferenceSession.create(bytes, {
        executionProviders: [...providers],
        logSeverityLevel: 3,
        ...(threads ? { intraOpNumThreads: threads } : {}),
      }),
    );
    return new InProcessJudge(session, info.inputName, info.inputDtype === "int64", info.version ?? "unversioned", runTokens, provider);
  }

  async score(sequences: Int32Array, { count, seqLen, groupSize }: { count: number; seqLen: number; groupSize: number }) {
    const ids = this.int64 ? BigInt64Array.from(sequences, (x) => BigInt(x)) : sequences;
    const { data } = await runInPieces(count, seqLen, this.runTokens, async (start, rows) => {
      const piece = ids.subarray(start * seqLen, (start + rows) * seqLen);
      const input = new ort.Tensor(this.int64 ? "int64" : "int32", piece, [rows, seqLen]);
      const out = await onGpuLane(this.provider, () => this.session.run({ [this.inputName]: input }));
      const scores = Object.values(out)[0]!;
      return { data: scores.data as Float32Array, dims: scores.dims };
    });
    return { scores: data, groupVersions: new Array<string>(count / groupSize).fill(this.version) };
  }

  async release(): Promise<void> {
    await onGpuLane(this.provider, () => this.session.release());
  }
}

/** The GRPO config both step benches run: the seed's defaults at the given B and k, no evaluation, samples or checkpoints. */
export function benchGrpoConfig(batchSize: number, groupSize: number): GrpoConfig {
  return { ...GRPO_DEFAULTS, batch_size: batchSize, group_size: groupSize, max_iters: 1000, sample_interval: 0, eval_interval: 0, checkpoint_interval: 0 };
}

/** The training batches of a bench run (the same sequence for every trainer built from the same config). */
export function benchData(corpus: Corpus, seqLen: number, config: GrpoConfig, evalBatches = 1): CorpusData {
  return new CorpusData({ corpus, seqLen, batchSize: config.batch_size, seed: grpoDataSeed(config.seed), evalBatches });
}

/** The bench's corpus batches for buildInProcessTrainer (the windows benchData makes at the generator's seq_len). */
export function corpusBatches(corpus: Corpus, config: GrpoConfig): Pick<InProcessOptions, "data" | "maskTokenId"> {
  return { data: (seqLen) => benchData(corpus, seqLen, config), maskTokenId: corpus.vocab.maskTokenId };
}

export interface InProcessTrainer {
  trainer: GrpoTrainer;
  policy: PolicyEngine;
  reference: ReferenceEngine;
  /** Closes the engines and releases the judge session. */
  close(): Promise<void>;
}

export interface InProcessOptions {
  generator: string;
  judgeModel: string;
  /** The trainer's batches, made for the generator's seq_len (corpusBatches, or a task's data). */
  data(seqLen: number): DataPort;
  maskTokenId: number;
  config: GrpoConfig;
  /** Policy and reference engine (default: the engines' own choice, "auto"). */
  engine?: EngineChoice;
  /** Threads of the onnxruntime engines and the judge session (default: each one's own). */
  threads?: number;
  /** The engines' onnxruntime threads spin after a run (default: off, as the services). */
  spinWait?: boolean;
  /** onnxruntime execution provider of the engines and the judge session (auto, cpu, webgpu, cuda; default the engines' auto and a CPU judge). */
  executionProvider?: string;
}

/** The GRPO step in one process: policy and reference engines from `generator`, the judge as one onnxruntime session. */
export async function buildInProcessTrainer(opts: InProcessOptions): Promise<InProcessTrainer> {
  const seqLen = loadConfig(opts.generator).seq_len;
  const engineOptions = {
    ...(opts.engine ? { engine: opts.engine } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
    spinning: opts.spinWait ?? false,
    ...(opts.executionProvider ? { executionProvider: opts.executionProvider } : {}),
  };
  const policy = await PolicyEngine.fromCheckpoint(opts.generator, engineOptions);
  const reference = await ReferenceEngine.fromCheckpoint(opts.generator, engineOptions);
  const provider = opts.executionProvider ? resolveExecutionProvider(opts.executionProvider) : undefined;
  // on a GPU provider the judge runs whole requests, as a judge replica does there
  const judge = await InProcessJudge.open(
    opts.judgeModel,
    opts.threads,
    provider && provider.provider !== "cpu" ? 0 : DEFAULT_RUN_TOKENS,
    provider?.sessionProviders,
  );
  const trainer = new GrpoTrainer({ policy, reference, judge, data: opts.data(seqLen) }, opts.config, { maskTokenId: opts.maskTokenId });
  return {
    trainer,
    policy,
    reference,
    async close() {
      await policy.close();
      await reference.close();
      await judge.release();
    },
  };
}

/** `warmup` unrecorded steps, then `steps` recorded ones, with a progress line. */
export async function measureSteps(trainer: GrpoTrainer, warmup: number, steps: number): Promise<StepRecord[]> {
  return (await measureStepsInTurn([trainer], warmup, steps))[0]!;
}

/**
 * The same for several trainers taking turns step by step, so that a change in the machine's load
 * falls on each alike: one list of records per trainer.
 */
export async function measureStepsInTurn(trainers: GrpoTrainer[], warmup: number, steps: number): Promise<StepRecord[][]> {
  for (let i = 0; i < warmup; i++) for (const t of trainers) await t.trainStep();
  const records: StepRecord[][] = trainers.map(() => []);
  for (let i = 0; i < steps; i++) {
    for (const [j, t] of trainers.entries()) records[j]!.push(await t.trainStep());
    const times = records.map((r) => `${(r.at(-1)!.phases.step_ms / 1000).toFixed(2)}s`).join(" ");
    process.stdout.write(`\r  step ${i + 1}/${steps}: ${times}   `);
  }
  process.stdout.write("\n");
  return records;
}

export async function run(o: StepBenchConfig): Promise<void> {
  const tlsModes = { on: [true], off: [false], both: [false, true] }[o.tls];
  const engines = o.engines.split(",").map((e) => e.trim()) as EngineChoice[];
  const tmp = mkdtempSync(join(tmpdir(), "grpomesh-bench-step-"));
  try {
    const corpus = loadCorpus();
    let generator = resolve(ROOT, o.generator);
    if (!existsSync(join(generator, "config.json"))) {
      generator = join(tmp, "generator");
      await initBackend(undefined, { log: false });
      const model = new MaskedTransformer(defaultGeneratorConfig(corpus.vocab.tokens), { seed: 1 });
      model.save(generator);
      model.dispose();
      console.log(`no generator at ${o.generator}: using a randomly initialised one of the default size`);
    }
    const modelConfig = loadConfig(generator);
    let judgeModel = resolve(ROOT, o.judge_model);
    if (!existsSync(judgeModel)) {
      judgeModel = join(tmp, "judge.onnx");
      writeCharacterJudge(judgeModel, corpus.vocab.tokens, "e", { seqLen: modelConfig.seq_len });
      console.log(`no judge at ${o.judge_model}: using a character-counting judge`);
    }
    const config = benchGrpoConfig(o.batch_size, o.group_size);
    console.log(
      `GRPO step, B=${config.batch_size}, k=${config.group_size} (${config.batch_size * config.group_size} sequences), model ${modelConfig.n_layer}L×${modelConfig.d_model}, T=${modelConfig.seq_len}; ` +
        `engines ${engines.join(", ")}; ${o.warmup} warm-up + ${o.steps} measured steps each; ${cpus()[0]?.model ?? "unknown CPU"}, ${availableParallelism()} cores`,
    );
    const stepMeans: Array<{ engine: string; inproc?: number; grpc?: number }> = [];
    const judgeQuants = o.judge_quant === "both" ? (["fp32", "int8"] as const) : ([o.judge_quant] as const);
    let int8Path: string | undefined;
    const int8Judge = () => {
      if (!int8Path) {
        int8Path = join(tmp, "judge-int8.onnx");
        writeFileSync(int8Path, quantizeModel(readFileSync(judgeModel)).bytes);
      }
      return int8Path;
    };
    // The machine's fp32 compute limit for this step: its FLOPs and onnxruntime's measured MatMul peak.
    let judgeConfig: ModelConfig | undefined;
    try {
      judgeConfig = checkpointFromOnnx(readFileSync(judgeModel), judgeModel).config;
    } catch (err) {
      console.log(`(no compute limit: the judge's size is not readable: ${(err as Error).message.split("\n")[0]})`);
    }
    const flops = judgeConfig && stepFlops(modelConfig, judgeConfig, config.batch_size, config.group_size, modelConfig.seq_len);
    const peak = flops && o.mode !== "grpc" ? await measurePeak(availableParallelism()) : undefined;

    for (const engine of engines) {
      const results: Record<string, StepRecord[]> = {};
      let what: string = engine;
      if (o.mode !== "grpc") {
        // with both judges, two trainers whose steps take turns
        const built: InProcessTrainer[] = [];
        try {
          for (const quant of judgeQuants) {
            const judgePath = quant === "int8" ? int8Judge() : judgeModel;
            built.push(
              await buildInProcessTrainer({ generator, judgeModel: judgePath, ...corpusBatches(corpus, config), config, engine, spinWait: o.spin_wait }),
            );
          }
          what = (await built[0]!.policy.info()).backend;
          console.log(
            `[${engine}] in-process (policy, reference and judge engines in this process), ${judgeQuants.map((q) => `${q} judge`).join(" and ")}` +
              `${built.length > 1 ? ", their steps taking turns" : ""}:`,
          );
          const records = await measureStepsInTurn(
            built.map((b) => b.trainer),
            o.warmup,
            o.steps,
          );
          judgeQuants.forEach((quant, i) => (results[quant === "int8" ? "inproc_int8" : "inproc"] = records[i]!));
        } finally {
          for (const b of built) await b.close();
        }
      }
      if (o.mode !== "inproc") {
        for (const tls of tlsModes) {
          const mode = tlsModes.length === 2 ? (tls ? "grpc" : "plain") : "grpc";
          console.log(`[${engine}] over gRPC${tls ? " with mTLS" : " in plaintext"} (policy, reference and ${o.judges} judge process(es) on loopback):`);
          results[mode] = await measureGrpc(
            {
              generator,
              judgeModel,
              corpus,
              config,
              engine,
              seqLen: modelConfig.seq_len,
              judges: o.judges,
              spinWait: o.spin_wait,
              tls,
              dir: join(tmp, mode),
            },
            o.warmup,
            o.steps,
          );
        }
      }
      console.log(`${engine} (${what}):`);
      console.log(phaseTable(results));
      const modes = Object.keys(results);
      const avg = (mode: string) => mean(results[mode]!.map((r) => r.phases.step_ms));
      for (const m of modes) {
        const step = avg(m);
        console.log(
          `${MODE_NAMES[m]}: ${(1000 / step).toFixed(2)} steps/s, ${((config.batch_size * config.group_size * modelConfig.seq_len) / (step / 1000)).toFixed(0)} tokens/s`,
        );
      }
      if (flops && peak) {
        for (const m of ["inproc", "inproc_int8"].filter((x) => results[x])) {
          console.log(computeLine(`${MODE_NAMES[m]} (${availableParallelism()} threads)`, flops, avg(m) / 1000, peak));
        }
        if (results.inproc && results.inproc_int8)
          console.log(
            `int8 judge: the in-process step ${(avg("inproc") / avg("inproc_int8")).toFixed(2)}× faster (judge ${(mean(results.inproc.map((r) => r.phases.judge_ms)) / mean(results.inproc_int8.map((r) => r.phases.judge_ms))).toFixed(2)}× faster)`,
          );
      }
      if (results.inproc && results.grpc) {
        const share = (avg("grpc") - avg("inproc")) / avg("grpc");
        console.log(`RPC share of the gRPC step: ${(share * 100).toFixed(1)}% (goal ≤ 5%; noisy on a shared 2-core machine: compare within one run)`);
      }
      if (results.plain && results.grpc) {
        const share = (avg("grpc") - avg("plain")) / avg("grpc");
        console.log(
          `TLS share of the gRPC step: ${(share * 100).toFixed(1)}% (${avg("plain").toFixed(0)} ms plaintext, ${avg("grpc").toFixed(0)} ms mTLS; goal ≤ 5%)`,
        );
      }
      stepMeans.push({ engine, inproc: results.inproc && avg("inproc"), grpc: results.grpc && avg("grpc") });
    }
    const [first, ...rest] = stepMeans;
    for (const other of rest) {
      for (const mode of ["inproc", "grpc"] as const) {
        const a = first![mode],
          b = other[mode];
        if (a && b)
          console.log(
            `${mode === "inproc" ? "in-process" : "gRPC"} step: ${first!.engine} ${(a / 1000).toFixed(2)}s, ${other.engine} ${(b / 1000).toFixed(2)}s: ${(b / a).toFixed(2)}× faster with ${first!.engine}`,
          );
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const MODE_NAMES: Record<string, string> = { inproc: "in-process", inproc_int8: "in-process, int8 judge", plain: "gRPC plaintext", grpc: "gRPC mTLS" };

/** The GRPO step over the local stack's services (as `npm start` runs them), `steps` measured after `warmup`. */
async function measureGrpc(
  o: {
    generator: string;
    judgeModel: string;
    corpus: Corpus;
    config: GrpoConfig;
    engine: EngineChoice;
    seqLen: number;
    judges: number;
    spinWait: boolean;
    tls: boolean;
    dir: string;
  },
  warmup: number,
  steps: number,
): Promise<StepRecord[]> {
  const stack = await startStack({
    generator: o.generator,
    judgeModel: o.judgeModel,
    judges: o.judges,
    logDir: join(o.dir, "logs"),
    engine: o.engine,
    spinWait: o.spinWait,
    tls: o.tls,
    restart: false,
  });
  const security = stack.clientSecurity;
  const policy = new GrpcPolicy(stack.policy, { security });
  const reference = new GrpcReference(stack.reference, { security });
  const judges = new JudgeFleet(stack.judges, { security });
  try {
    const trainer = new GrpoTrainer({ policy, reference, judge: judges, data: benchData(o.corpus, o.seqLen, o.config) }, o.config, {
      maskTokenId: o.corpus.vocab.maskTokenId,
    });
    return await measureSteps(trainer, warmup, steps);
  } finally {
    policy.close();
    reference.close();
    judges.close();
    await stack.supervisor.stopAll();
  }
}

/** Mean ms per phase for each mode that ran, and the gRPC − in-process difference when both ran. */
export function phaseTable(results: Record<string, StepRecord[]>): string {
  const modes = Object.keys(results);
  const avg = (mode: string, phase: (typeof PHASES)[number]) => mean(results[mode]!.map((r) => r.phases[phase]));
  const rows = PHASES.map((phase) => {
    const cells = modes.map((m) => avg(m, phase).toFixed(0));
    if (results.inproc && results.grpc) {
      const delta = avg("grpc", phase) - avg("inproc", phase);
      cells.push(`${delta >= 0 ? "+" : ""}${delta.toFixed(0)}`);
    }
    return [phase.replace(/_ms$/, ""), ...cells];
  });
  const header = ["phase (mean ms)", ...modes.map((m) => MODE_NAMES[m] ?? m), ...(results.inproc && results.grpc ? ["mTLS − in-process"] : [])];
  return formatTable(header, rows);
}
