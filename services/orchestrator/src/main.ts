// The orchestrator: connects to policy, reference and judges, checks them, runs the GRPO loop,
// and reports. Usage: node --import tsx services/orchestrator/src/main.ts [--config=run.json] [--key=value ...]
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { formatConfig } from "@grpomesh/config";
import { DEFAULT_CORPUS_PATH, REPO_ROOT, loadCorpus } from "@grpomesh/data";
import { CorpusData, GrpoTrainer, latestCheckpoint, type GrpoConfig } from "@grpomesh/loop";
import { RunState } from "@grpomesh/proto";
import { startMetricsServer } from "@grpomesh/metrics";
import { waitForServing } from "@grpomesh/rpc";
import { ORCHESTRATOR_DEFAULTS, parseOrchestratorConfig } from "./config.ts";
import { GrpcPolicy, GrpcReference } from "./grpc-ports.ts";
import { JudgeFleet } from "./judge-fleet.ts";
import { RunMetrics } from "./metrics.ts";
import { ProgressLine, formatDuration, formatEval, formatSamples } from "./progress.ts";
import { startOrchestratorServer } from "./server.ts";
import { runStartupChecks } from "./startup.ts";

const log = (line: string) => console.log(`[orchestrator] ${line}`);

async function main(): Promise<number> {
  const wallStart = performance.now();
  const parsed = parseOrchestratorConfig(process.argv.slice(2));
  if (parsed.help) {
    console.log(`usage: orchestrator [--config=run.json] [--key=value ...]\n\n${formatConfig(ORCHESTRATOR_DEFAULTS)}`);
    return 0;
  }
  const cfg = parsed.config;
  const runDir = resolve(cfg.run_dir || join(REPO_ROOT, "runs", new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-")));
  if (!cfg.resume && latestCheckpoint(runDir)) {
    throw new Error(`${runDir} already holds checkpoints; pass --resume to continue that run, or choose another --run_dir`);
  }
  mkdirSync(runDir, { recursive: true });
  console.log(`resolved configuration${parsed.configFile ? ` (file ${parsed.configFile})` : ""}:\n${formatConfig(cfg, ORCHESTRATOR_DEFAULTS)}`);
  writeFileSync(join(runDir, cfg.resume && existsSync(join(runDir, "config.json")) ? `config.resume-${Date.now()}.json` : "config.json"), JSON.stringify(cfg, null, 2) + "\n");

  const corpus = loadCorpus(cfg.corpus || DEFAULT_CORPUS_PATH);
  const policy = new GrpcPolicy(cfg.policy);
  const reference = new GrpcReference(cfg.reference);
  const judges = await JudgeFleet.fromSpec(cfg.judges, { chunkGroups: cfg.judge_chunk_groups, deadlineMs: cfg.judge_deadline_ms, refreshMs: cfg.judges_refresh_ms, log });
  for (const target of [cfg.policy, cfg.reference, ...judges.replicas.map((r) => r.target)]) await waitForServing(target, { timeoutMs: 120_000 });

  const resuming = cfg.resume && latestCheckpoint(runDir) !== undefined;
  const facts = await runStartupChecks({ policy, reference, judges, corpus, resuming }, log);
  const data = new CorpusData({ corpus, seqLen: facts.seqLen, batchSize: cfg.batch_size, seed: cfg.seed, evalBatches: cfg.eval_batches });
  const metrics = new RunMetrics();
  const mode = cfg.progress === "auto" ? (process.stdout.isTTY ? "line" : "log") : cfg.progress;
  const progress = new ProgressLine(cfg.max_iters, mode, cfg.log_every);
  let klSum = 0;
  let klSteps = 0;
  const trainer = new GrpoTrainer(
    { policy, reference, judge: judges, data },
    cfg as GrpoConfig,
    {
      runDir,
      maskTokenId: corpus.vocab.maskTokenId,
      decode: (ids) => corpus.vocab.decode(ids, { maskChar: "_" }),
      configForRecord: cfg,
      hooks: {
        onStep: (r) => {
          metrics.recordStep(r);
          klSum += r.mean_kl;
          klSteps++;
          progress.step(r);
        },
        onEval: (r) => {
          metrics.recordEval(r);
          progress.breakLine();
          log(formatEval(r));
        },
        onSamples: (step, samples) => {
          progress.breakLine();
          console.log(formatSamples(step, samples));
        },
        onWarning: (m) => {
          progress.breakLine();
          console.warn(`[orchestrator] WARNING: ${m}`);
        },
        onCheckpoint: (dir, step) => {
          progress.breakLine();
          log(`checkpoint @ step ${step}: ${dir}`);
        },
      },
    },
  );
  if (resuming) {
    const step = await trainer.resumeLatest();
    log(`resumed from ${latestCheckpoint(runDir)} at step ${step}`);
  } else if (facts.policyLastStep > 0) {
    throw new Error(`the policy has already applied ${facts.policyLastStep} steps but this is a fresh run; restart the policy from the initial checkpoint or pass --resume`);
  }

  let state = RunState.RUNNING;
  let error = "";
  const server = await startOrchestratorServer(cfg.address, { trainer, judges, runDir, state: () => state, error: () => error, looping: () => state === RunState.RUNNING }, metrics.service.observeCall);
  const metricsServer = cfg.metrics_port >= 0 ? await startMetricsServer({ port: cfg.metrics_port, host: cfg.metrics_host, registry: metrics.service.registry }) : undefined;
  log(`serving on ${server.address}${metricsServer ? `, /metrics on ${cfg.metrics_host}:${metricsServer.port}` : ""}; run directory ${runDir}`);

  const abort = new AbortController();
  const onSignal = (sig: string) => {
    if (abort.signal.aborted) process.exit(130);
    progress.breakLine();
    log(`${sig}: stopping after the current step (again to quit at once)`);
    abort.abort();
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  try {
    const result = await trainer.run(abort.signal);
    state = abort.signal.aborted ? RunState.PAUSED : RunState.DONE;
    progress.breakLine();
    const referenceAfter = (await reference.client.info({})).weightsDigest;
    if (referenceAfter !== facts.referenceDigest) throw new Error(`the reference's weights changed during the run (${facts.referenceDigest.slice(0, 12)} → ${referenceAfter.slice(0, 12)}); it must be frozen`);
    const policyAfter = await policy.state();
    const summary = {
      steps: result.steps,
      heldout_reward_before: result.first.mean_reward,
      heldout_reward_after: result.last.mean_reward,
      heldout_accuracy_before: result.first.accuracy,
      heldout_accuracy_after: result.last.accuracy,
      mean_kl: klSteps ? klSum / klSteps : 0,
      final_kl: trainer.lastRecord?.mean_kl ?? 0,
      policy_weights_changed: policyAfter.weightsDigest !== facts.policyDigest,
      reference_unchanged: true,
      judge_version: trainer.lastJudgeVersion,
      wall_s: (performance.now() - wallStart) / 1000,
      run_dir: runDir,
      checkpoint: latestCheckpoint(runDir),
      log: join(runDir, "log.jsonl"),
    };
    writeFileSync(join(runDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
    console.log(
      [
        "",
        summary.steps < cfg.max_iters
          ? `stopped at step ${summary.steps} of ${cfg.max_iters} after ${formatDuration(summary.wall_s * 1000)}; continue with: npm start -- --resume --run-dir=${runDir}`
          : `done: ${summary.steps} steps in ${formatDuration(summary.wall_s * 1000)}`,
        `  held-out reward    ${summary.heldout_reward_before.toFixed(4)} → ${summary.heldout_reward_after.toFixed(4)} (${signed(summary.heldout_reward_after - summary.heldout_reward_before)})`,
        `  held-out accuracy  ${(summary.heldout_accuracy_before * 100).toFixed(2)}% → ${(summary.heldout_accuracy_after * 100).toFixed(2)}%`,
        `  mean KL            ${summary.mean_kl.toFixed(4)} (last step ${summary.final_kl.toFixed(4)})`,
        `  checkpoint         ${summary.checkpoint ?? "none"}`,
        `  log                ${summary.log}`,
        `  summary            ${join(runDir, "summary.json")}`,
      ].join("\n"),
    );
    // Stopped by a signal before max_iters: a checkpoint was written, but the run is not finished —
    // exit non-zero so a supervisor (a Kubernetes Job, the launcher) does not take it as done.
    return abort.signal.aborted && result.steps < cfg.max_iters ? 130 : 0;
  } catch (err) {
    state = RunState.FAILED;
    error = err instanceof Error ? err.message : String(err);
    throw err;
  } finally {
    await server.shutdown(1000);
    await metricsServer?.close();
    policy.close();
    reference.close();
    judges.close();
  }
}

function signed(x: number): string {
  return `${x >= 0 ? "+" : ""}${x.toFixed(4)}`;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[orchestrator] error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
