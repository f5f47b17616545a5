// `npm run bench -- tasks`: what GRPO does to a task's quality, measured the way a user runs it.
// 1. `npm start -- --task=T --seed=S` once per seed (the whole stack over gRPC), each run's
//    summary.json read back: held-out solved and per-cell accuracy before → after, wall time.
// 2. The skeptic's baseline: `npm run pretrain` continues the same base with the task's recipe for
//    the runs' mean wall time (peak learning rate held constant), and that checkpoint is evaluated
//    exactly as the orchestrator evaluates (GrpoTrainer.evaluate over in-process engines and judge,
//    the run's held-out batches, sampling seeds, temperature and top_p). The base is evaluated the
//    same way, and must equal the runs' step-0 numbers.
// 3. A markdown table and a JSON file of every number. It reports; it asserts nothing.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { join, relative, resolve } from "node:path";
import { CONFIG_FILE, SUMMARY_FILE, grpoDataSeed, readJsonFile, writeAtomic, type EvalRecord, type GrpoConfig } from "@grpomesh/loop";
import { loadTask } from "@grpomesh/tasks";
import { PRETRAIN_SETTINGS } from "@grpomesh/pretrain/settings";
import type { EngineChoice } from "@grpomesh/role-engines";
import { ROOT, parseLauncherArgs } from "@grpomesh/launcher/settings";
import type { TasksBenchConfig } from "./settings.ts";
import { buildInProcessTrainer } from "./step.ts";
import { formatSeconds, summarizeRuns, tasksTable, type Baseline, type HeldOut, type SeedRun } from "./tasks-report.ts";

/** A path as the user typed it: relative inside the working directory, absolute outside. */
const rel = (p: string) => {
  const r = relative(process.cwd(), p);
  return r.startsWith("..") ? p : r || ".";
};

/** Lines of a child's output worth showing live: its progress, evaluations and end (the rest is in its log file). */
const PROGRESS = /^(step +\d+\/|\[orchestrator\] eval @|done:|stopped at step|grpo-mesh: (all services ready|.*died)|eval step|stopping at step|saved )/;

/**
 * Runs `node --import tsx SCRIPT ARGS` from the repository root: every line of its output goes to
 * `logFile`, the progress lines to the console with `label`. Resolves with its stdout lines; rejects
 * when it exits non-zero, with the last lines and where the whole log is.
 */
async function runTool(label: string, script: string, args: string[], logFile: string): Promise<string[]> {
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, script), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  const tail: string[] = [];
  const follow = (stream: NodeJS.ReadableStream, keep: boolean) =>
    new Promise<void>((done) => {
      const lines = createInterface({ input: stream });
      lines.on("line", (line) => {
        log.write(line + "\n");
        if (keep) stdout.push(line);
        tail.push(line);
        if (tail.length > 15) tail.shift();
        if (PROGRESS.test(line)) console.log(`  [${label}] ${line}`);
      });
      lines.on("close", done);
    });
  const outputs = Promise.all([follow(child.stdout, true), follow(child.stderr, false)]);
  const code = await new Promise<number | null>((done, fail) => {
    child.on("error", fail);
    child.on("exit", (c, signal) => done(c ?? (signal ? 128 : null)));
  });
  await outputs;
  await new Promise((done) => log.end(done));
  if (code !== 0)
    throw new Error(
      `${label}: ${script} exited with code ${code}; its last lines:\n${tail.map((l) => `    ${l}`).join("\n")}\n(the whole output: ${rel(logFile)})`,
    );
  return stdout;
}

interface RunSummary {
  steps: number;
  heldout_solved_before: number;
  heldout_solved_after: number;
  heldout_accuracy_before: number;
  heldout_accuracy_after: number;
  heldout_reward_before: number;
  heldout_reward_after: number;
  wall_s: number;
}

/** The settings the held-out evaluation reads; every run must agree on them for one baseline to stand beside all. */
const EVAL_KEYS = ["task", "blanks", "corpus", "batch_size", "eval_batches", "temperature", "top_p"] as const;

/**
 * Evaluates `generator` exactly as the orchestrator does at a run's step 0: a GrpoTrainer over
 * in-process policy and reference engines and the judge's ONNX, on the task's data made as run.ts
 * makes it (the run's batch_size, eval_batches and data seed), then `evaluate()`.
 */
export async function evaluateAsTheRunDoes(generator: string, judgeModel: string, runConfig: GrpoConfig & Record<string, unknown>, engine: EngineChoice) {
  const task = loadTask(runConfig.task as never, { blanks: runConfig.blanks as number, corpus: runConfig.corpus as string });
  const built = await buildInProcessTrainer({
    generator,
    judgeModel,
    data: (seqLen) => task.data({ seqLen, batchSize: runConfig.batch_size, seed: grpoDataSeed(runConfig.seed), evalBatches: runConfig.eval_batches }),
    maskTokenId: task.vocab.maskTokenId,
    config: runConfig,
    engine,
  });
  try {
    return await built.trainer.evaluate();
  } finally {
    await built.close();
  }
}

const heldOut = (e: EvalRecord): HeldOut => ({ solved: e.solve_rate, accuracy: e.accuracy });

export async function run(o: TasksBenchConfig): Promise<void> {
  const seeds = o.seeds.split(",").map((s) => Number(s.trim()));
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  const root = resolve(o.out || join(ROOT, "runs", `bench-tasks-${o.task}-${stamp}`));
  mkdirSync(root, { recursive: true });
  // What npm start is given; parsed here as npm start parses it, for the files and engine it resolves.
  const startArgs = (seed: number, runDir: string) => [
    `--task=${o.task}`,
    `--seed=${seed}`,
    `--run_dir=${runDir}`,
    "--progress=log",
    ...(o.max_iters ? [`--max_iters=${o.max_iters}`] : []),
    ...(o.generator ? [`--generator=${resolve(o.generator)}`] : []),
    ...(o.judge_model ? [`--judge_model=${resolve(o.judge_model)}`] : []),
    ...(o.run_config ? [`--run_config=${resolve(o.run_config)}`] : []),
  ];
  const launched = parseLauncherArgs(startArgs(seeds[0]!, join(root, "check")), process.env);
  const { generator, judge_model: judgeModel, run_config: runConfigFile, engine } = launched.launcher;
  const recipe = o.pretrain_config ? resolve(o.pretrain_config) : join(ROOT, "configs", `pretrain-${o.task}.json`);
  if (o.baseline && !existsSync(recipe))
    throw new Error(`the baseline's pretraining recipe ${rel(recipe)} does not exist; pass --pretrain_config=FILE, or --baseline=false to skip the baseline`);
  console.log(
    `bench tasks: task ${o.task}, ${seeds.length} GRPO run(s) (seeds ${seeds.join(", ")}) of npm start over gRPC; base ${rel(generator)}, judge ${rel(judgeModel)}, run config ${rel(runConfigFile)}` +
      `${o.max_iters ? `, max_iters ${o.max_iters}` : ""}; output in ${rel(root)}`,
  );

  // 1. The GRPO runs, one after another (each has the machine to itself).
  const runs: Array<SeedRun & { runDir: string; summary: RunSummary; config: GrpoConfig & Record<string, unknown>; processWallS: number }> = [];
  for (const seed of seeds) {
    const runDir = join(root, `seed-${seed}`);
    console.log(`GRPO run, seed ${seed} (${rel(runDir)}):`);
    const t0 = performance.now();
    await runTool(`seed ${seed}`, "tools/launcher/src/main.ts", startArgs(seed, runDir), join(root, `seed-${seed}.log`));
    const processWallS = (performance.now() - t0) / 1000;
    const summary = readJsonFile<RunSummary>(join(runDir, SUMMARY_FILE));
    const config = readJsonFile<GrpoConfig & Record<string, unknown>>(join(runDir, CONFIG_FILE));
    runs.push({
      seed,
      before: { solved: summary.heldout_solved_before, accuracy: summary.heldout_accuracy_before },
      after: { solved: summary.heldout_solved_after, accuracy: summary.heldout_accuracy_after },
      wallS: summary.wall_s,
      steps: summary.steps,
      runDir,
      summary,
      config,
      processWallS,
    });
  }
  const warnings: string[] = [];
  const evalConfig = runs[0]!.config;
  for (const r of runs.slice(1)) {
    const differ = EVAL_KEYS.filter((k) => JSON.stringify(r.config[k]) !== JSON.stringify(evalConfig[k]));
    if (differ.length)
      warnings.push(
        `run ${r.seed} evaluated with other settings than run ${runs[0]!.seed} (${differ.join(", ")}); the baseline is evaluated as run ${runs[0]!.seed}`,
      );
  }

  // 2. The base, evaluated as the runs evaluate: it must equal their step 0.
  console.log(`evaluating the base ${rel(generator)} as the orchestrator does (in-process engines, engine ${engine}) …`);
  const baseEval = await evaluateAsTheRunDoes(generator, judgeModel, evalConfig, engine);
  for (const r of runs) {
    const same =
      r.summary.heldout_solved_before === baseEval.solve_rate &&
      r.summary.heldout_accuracy_before === baseEval.accuracy &&
      Math.abs(r.summary.heldout_reward_before - baseEval.mean_reward) <= 1e-5 * Math.max(1, Math.abs(baseEval.mean_reward));
    if (!same)
      warnings.push(
        `the base evaluated here (solved ${baseEval.solve_rate}, accuracy ${baseEval.accuracy}, reward ${baseEval.mean_reward}) differs from run ${r.seed}'s step 0 ` +
          `(solved ${r.summary.heldout_solved_before}, accuracy ${r.summary.heldout_accuracy_before}, reward ${r.summary.heldout_reward_before}): the baseline is not evaluated exactly as the runs`,
      );
  }

  // 3. The skeptic's baseline: more supervised pretraining from the same base for the same wall time,
  // twice: the recipe's peak learning rate held for the runs' mean wall time, then the same number of
  // steps with the recipe's cosine decay (no warm-up) — a fair chance for the schedule that made the base.
  type BaselineRun = Baseline & { checkpoint: string; eval: EvalRecord; stoppedBy: string; args: string[] };
  const baselines: BaselineRun[] = [];
  const summary = summarizeRuns(runs);
  const recipeValues = readJsonFile<{ learning_rate?: number; min_lr_ratio?: number }>(recipe);
  const peak = recipeValues.learning_rate ?? PRETRAIN_SETTINGS.learning_rate.default;
  const floor = peak * (recipeValues.min_lr_ratio ?? PRETRAIN_SETTINGS.min_lr_ratio.default);
  const runBaseline = async (name: string, schedule: string, extra: string[]): Promise<BaselineRun> => {
    const out = join(root, name);
    console.log(`baseline: npm run pretrain with ${rel(recipe)} from ${rel(generator)}, ${schedule} …`);
    const args = [
      `--config=${recipe}`,
      `--task=${o.task}`,
      `--init=${generator}`,
      "--warmup_steps=0",
      // Evaluations between steps would spend the budget; pretrain evaluates before and after anyway.
      "--eval_interval=0",
      ...extra,
      `--out=${out}`,
    ];
    await runTool("pretrain", "tools/pretrain/src/main.ts", args, join(root, `${name}.log`));
    const record = readJsonFile<{ steps: number; wall_seconds: number; stopped_by: string }>(join(out, "pretrain.json"));
    console.log(`evaluating the baseline ${rel(out)} as the orchestrator does …`);
    const after = await evaluateAsTheRunDoes(out, judgeModel, evalConfig, engine);
    return {
      before: heldOut(baseEval),
      after: heldOut(after),
      wallS: record.wall_seconds,
      steps: record.steps,
      schedule,
      checkpoint: out,
      eval: after,
      stoppedBy: record.stopped_by,
      args,
    };
  };
  if (o.baseline) {
    const constant = await runBaseline("baseline-constant", `lr ${peak} constant`, [
      `--max_minutes=${summary.wall_s.mean / 60}`,
      "--max_steps=1000000",
      "--min_lr_ratio=1",
    ]);
    baselines.push(constant);
    baselines.push(await runBaseline("baseline-cosine", `lr ${peak} → ${Number(floor.toPrecision(3))}, cosine`, [`--max_steps=${constant.steps}`]));
  }

  // 4. The table and the numbers.
  const jsonPath = join(root, "tasks-bench.json");
  const result = {
    bench: "tasks",
    task: o.task,
    time: new Date().toISOString(),
    generator,
    judge_model: judgeModel,
    run_config: runConfigFile,
    evaluation: Object.fromEntries(EVAL_KEYS.map((k) => [k, evalConfig[k]])),
    // wall_s: the orchestrator's run (summary.json); process_wall_s: all of npm start, services' start-up included.
    runs: runs.map((r) => ({ seed: r.seed, run_dir: r.runDir, ...r.summary, process_wall_s: Number(r.processWallS.toFixed(1)) })),
    mean_sd: summary,
    base: baseEval,
    baselines: baselines.map((b) => ({
      schedule: b.schedule,
      checkpoint: b.checkpoint,
      recipe,
      pretrain_args: b.args,
      steps: b.steps,
      wall_s: b.wallS,
      stopped_by: b.stoppedBy,
      heldout: b.eval,
    })),
    warnings,
  };
  writeAtomic(jsonPath, JSON.stringify(result, null, 2) + "\n");
  console.log("");
  console.log(tasksTable(runs, baselines));
  console.log("");
  console.log(
    `held-out: ${baseEval.sequences} inputs (${evalConfig.eval_batches} batches of ${evalConfig.batch_size}), one completion each at temperature ${evalConfig.temperature}, top_p ${evalConfig.top_p}, fixed sampling seeds; ` +
      `solved: the task's verifier; per-cell accuracy: masked tokens equal to the target's.`,
  );
  for (const b of baselines)
    console.log(`baseline: ${rel(recipe)} continued from the base, ${b.schedule}: ${b.steps} steps in ${formatSeconds(b.wallS)}, evaluated as the runs.`);
  for (const w of warnings) console.warn(`WARNING: ${w}`);
  console.log(`numbers: ${rel(jsonPath)}`);
}
