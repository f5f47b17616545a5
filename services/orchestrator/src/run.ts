// The orchestrator's run, start to end: plan it (fresh, resume, or already finished), connect to
// policy, reference and judges, check them, serve the OrchestratorService, run the GRPO loop, and
// write and print the summary. services/orchestrator/src/main.ts wires this to the process.
import { writeRunReport } from "@grpomesh/report";
import { join } from "node:path";
import { defaults, formatConfig } from "@grpomesh/config";
import {
  GrpoTrainer,
  grpoDataSeed,
  LOG_FILE,
  SUMMARY_FILE,
  ensureRunDir,
  inRunDir,
  latestCheckpoint,
  readLog,
  summarizeLog,
  writeAtomic,
} from "@grpomesh/loop";
import { RunState } from "@grpomesh/proto";
import { loadTask } from "@grpomesh/tasks";
import { startMetricsServer } from "@grpomesh/metrics";
import { loadSecurity, securityFields, securityWarning, waitForServing, type ServiceArgs } from "@grpomesh/rpc";
import { ORCHESTRATOR_SETTINGS } from "./settings.ts";
import { planRun } from "./recovery.ts";
import { GrpcPolicy, GrpcReference, roleEndpoints } from "./grpc-ports.ts";
import { WeightedJudges } from "./weighted-judges.ts";
import { RunMetrics } from "./metrics.ts";
import { ProgressLine, formatDuration, formatEval, formatSamples } from "./progress.ts";
import { startOrchestratorServer } from "./server.ts";
import { runStartupChecks } from "./startup.ts";

const log = (line: string) => console.log(`[orchestrator] ${line}`);

/** A started run: connected, checked and serving its RPCs; `run()` trains it to its end. */
export interface OrchestratorRun {
  /** "[orchestrator] serving on …", for the caller to print once it handles signals; undefined when the run was already finished. */
  startLine: string | undefined;
  /**
   * Trains to max_iters (the same promise on every call), writes and prints the summary, stops serving
   * and closes every connection. Resolves to the exit code: 0 when the run is done (or was already),
   * 130 when `stop` ended it before max_iters; rejects on an error.
   */
  run(): Promise<number>;
  /** Stops after the current step (a checkpoint is written); `run()` then resolves. */
  stop(signal: string): void;
  /** Stops after the current step and waits for the run's end. */
  shutdown(): Promise<void>;
}

/**
 * Plans the run (fresh, resume, or already finished), connects to policy, reference and judges,
 * checks them, prepares the trainer (begin or resume) and starts this service's server. Throws when
 * any of that fails (the process exits then); training starts with `run()`.
 */
export async function startOrchestrator(args: ServiceArgs): Promise<OrchestratorRun> {
  const segmentStartMs = Date.now();
  const { argv, env } = args;
  // Decided before anything is written or connected: fresh, resume, or already finished.
  const plan = planRun(argv, env);
  if (plan.kind === "finished") {
    log(plan.message);
    return { startLine: undefined, run: async () => 0, stop: () => {}, shutdown: async () => {} };
  }
  const cfg = plan.config;
  const runDir = plan.runDir;
  const resuming = plan.kind === "resume";
  for (const note of plan.notes) log(note);
  ensureRunDir(runDir);
  const security = loadSecurity({ tlsDir: cfg.tls_dir, adminTokenFile: cfg.admin_token_file });
  const insecure = securityWarning("orchestrator", security);
  if (insecure) console.warn(`[orchestrator] ${insecure}`);
  console.log(
    `resolved configuration${args.configFile ? ` (file ${args.configFile})` : ""}${resuming ? ` (restored from ${plan.savedFrom})` : ""}:\n${formatConfig(cfg, defaults(ORCHESTRATOR_SETTINGS))}`,
  );
  if (resuming) for (const c of plan.changes) log(`resume changes ${c.key}: ${JSON.stringify(c.saved)} → ${JSON.stringify(c.given)} (${c.source})`);

  const task = loadTask(cfg.task, { blanks: cfg.blanks, corpus: cfg.corpus });
  const endpoints = roleEndpoints(cfg);
  const policy = new GrpcPolicy(endpoints.policy.target, { security, tlsServerName: endpoints.policy.tlsServerName });
  const reference = new GrpcReference(endpoints.reference.target, { security, tlsServerName: endpoints.reference.tlsServerName, retry: { log } });
  // Each judge fleet bounds a swap's hold on the loop (swapDeadlineMs), connects like the other clients
  // (security), and refuses swapped-in or joining judges that speak another vocabulary (vocab).
  const fleetOptions = {
    chunkGroups: cfg.judge_chunk_groups,
    deadlineMs: cfg.judge_deadline_ms,
    swapDeadlineMs: cfg.judge_swap_deadline_ms,
    refreshMs: cfg.judges_refresh_ms,
    security,
    tlsServerName: endpoints.judgesTlsServerName,
    vocab: { vocab: [...task.vocab.tokens], maskTokenId: task.vocab.maskTokenId },
    log,
  };
  // One fleet per named judge; the reward is their weighted sum.
  const judges = await WeightedJudges.fromSpec(cfg.judges, fleetOptions);
  const roles = [
    endpoints.policy,
    endpoints.reference,
    ...judges.fleets.flatMap(({ fleet }) => fleet.replicas.map((r) => ({ target: r.target, tlsServerName: fleet.tlsServerName }))),
  ];
  for (const { target, tlsServerName } of roles) await waitForServing(target, { timeoutMs: 120_000, security, tlsServerName });

  const facts = await runStartupChecks({ policy, reference, judges, task, resuming }, log);
  const data = task.data({ seqLen: facts.seqLen, batchSize: cfg.batch_size, seed: grpoDataSeed(cfg.seed), evalBatches: cfg.eval_batches });
  const metrics = new RunMetrics();
  const report = new ReportWriter(runDir, (m) => console.warn(`[orchestrator] WARNING: ${m}`));
  const mode = cfg.progress === "auto" ? (process.stdout.isTTY ? "line" : "log") : cfg.progress;
  const progress = new ProgressLine(cfg.max_iters, mode, cfg.log_every);
  const trainer = new GrpoTrainer({ policy, reference, judge: judges, data }, cfg, {
    runDir,
    maskTokenId: task.vocab.maskTokenId,
    decode: (ids) => task.vocab.decode(ids, { maskChar: "_" }),
    configForRecord: cfg,
    segmentStartMs,
    hooks: {
      onStep: (r) => {
        metrics.recordStep(r);
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
        report.update();
      },
    },
  });
  if (plan.kind === "resume") {
    const r = await trainer.resumeFromCheckpoint(plan.choice, { config_changes: plan.changes.map(({ key, saved, given }) => ({ key, saved, given })) });
    for (const s of r.skipped) log(`skipped checkpoint ${s.checkpoint}: ${s.reason}${"moved_to" in s ? ` (moved to ${String(s.moved_to)})` : ""}`);
    for (const n of r.notes) log(n);
    log(
      `resumed from ${r.checkpoint} at step ${r.step}${r.supersededRecords ? `; ${r.supersededRecords} log records after it moved to log.superseded.jsonl (those steps are redone)` : ""}`,
    );
  } else {
    if (facts.policyLastStep > 0) {
      throw new Error(
        `the policy has already applied ${facts.policyLastStep} steps but this is a fresh run; restart the policy from the initial checkpoint or pass --resume`,
      );
    }
    trainer.begin({ config_file: plan.configFile ?? null, config_file_values: plan.configFileValues ?? null, policy_weights_digest: facts.policyDigest });
  }

  let state = RunState.RUNNING;
  let error = "";
  const server = await startOrchestratorServer(
    cfg.address,
    { trainer, judges, runDir, state: () => state, error: () => error, looping: () => state === RunState.RUNNING },
    { onCall: metrics.service.observeCall, security },
  );
  const metricsServer =
    cfg.metrics_port !== "off" ? await startMetricsServer({ port: cfg.metrics_port, host: cfg.metrics_host, registry: metrics.service.registry }) : undefined;
  const secured = securityFields(security)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const startLine = `[orchestrator] serving on ${server.address} (${secured})${metricsServer ? `, /metrics on ${cfg.metrics_host}:${metricsServer.port}` : ""}; run directory ${runDir}`;

  const abort = new AbortController();
  const finish = async (): Promise<number> => {
    try {
      const result = await trainer.run(abort.signal);
      state = abort.signal.aborted ? RunState.PAUSED : RunState.DONE;
      progress.breakLine();
      const referenceAfter = (await reference.client.info({})).weightsDigest;
      if (referenceAfter !== facts.referenceDigest)
        throw new Error(
          `the reference's weights changed during the run (${facts.referenceDigest.slice(0, 12)} → ${referenceAfter.slice(0, 12)}); it must be frozen`,
        );
      const policyAfter = await policy.state();
      // The whole run, every segment: log.jsonl holds each step once (it is cut back on resume), the
      // run's first evaluation (step 0) and the wall time of earlier segments.
      const records = readLog(join(runDir, LOG_FILE)).records;
      const run = summarizeLog(records);
      const startRecord = records.find((r) => r.type === "start");
      const initialDigest =
        typeof startRecord?.policy_weights_digest === "string" ? startRecord.policy_weights_digest : resuming ? facts.referenceDigest : facts.policyDigest;
      const first = run.first_eval ?? result.first;
      const last = run.last_eval ?? result.last;
      const lastEnd = [...records].reverse().find((r) => r.type === "end");
      const summary = {
        steps: result.steps,
        heldout_reward_before: first.mean_reward as number,
        heldout_reward_after: last.mean_reward as number,
        heldout_accuracy_before: first.accuracy as number,
        heldout_accuracy_after: last.accuracy as number,
        heldout_solved_before: first.solve_rate as number,
        heldout_solved_after: last.solve_rate as number,
        task: cfg.task,
        heldout_before_step: first.step,
        heldout_after_step: last.step,
        mean_kl: run.mean_kl,
        final_kl: run.final_kl,
        step_records: run.step_records,
        policy_weights_changed: policyAfter.weightsDigest !== initialDigest,
        reference_unchanged: true,
        judge_version: trainer.lastJudgeVersion,
        segments: run.segments,
        wall_s: typeof lastEnd?.total_wall_s === "number" ? lastEnd.total_wall_s : trainer.totalWallSeconds(),
        run_dir: runDir,
        checkpoint: latestCheckpoint(runDir),
        log: join(runDir, LOG_FILE),
      };
      const summaryPath = join(runDir, SUMMARY_FILE);
      inRunDir(runDir, summaryPath, "write", () => writeAtomic(summaryPath, JSON.stringify(summary, null, 2) + "\n"));
      report.update();
      const reportPath = await report.settled();
      console.log(
        [
          "",
          summary.steps < cfg.max_iters
            ? `stopped at step ${summary.steps} of ${cfg.max_iters} after ${formatDuration(summary.wall_s * 1000)}; continue with: npm start -- --resume --run_dir=${runDir}`
            : `done: ${summary.steps} steps in ${formatDuration(summary.wall_s * 1000)}${summary.segments > 1 ? ` over ${summary.segments} segments` : ""}`,
          `  held-out reward    ${summary.heldout_reward_before.toFixed(4)} → ${summary.heldout_reward_after.toFixed(4)} (${signed(summary.heldout_reward_after - summary.heldout_reward_before)})`,
          `  held-out solved    ${(summary.heldout_solved_before * 100).toFixed(2)}% → ${(summary.heldout_solved_after * 100).toFixed(2)}% (the task's verifier: task ${cfg.task})`,
          `  held-out accuracy  ${(summary.heldout_accuracy_before * 100).toFixed(2)}% → ${(summary.heldout_accuracy_after * 100).toFixed(2)}% (masked tokens equal to the target's)`,
          `  mean KL            ${summary.mean_kl.toFixed(4)} (last step ${summary.final_kl.toFixed(4)})`,
          `  checkpoint         ${summary.checkpoint ?? "none"}`,
          `  log                ${summary.log}`,
          `  summary            ${summaryPath}`,
          ...(reportPath ? [`  report             ${reportPath}`] : []),
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
  };
  let done: Promise<number> | undefined;
  return {
    startLine,
    run: () => (done ??= finish()),
    stop(signal) {
      progress.breakLine();
      log(`${signal}: stopping after the current step (again to quit at once)`);
      abort.abort();
    },
    async shutdown() {
      abort.abort();
      await (done ??= finish()).catch(() => {});
    },
  };
}

function signed(x: number): string {
  return `${x >= 0 ? "+" : ""}${x.toFixed(4)}`;
}

/**
 * The run's report.html, rewritten at each checkpoint and at the end. Renders one at a time (a
 * request while one renders makes one more afterwards); a failure is a warning, never the run's end.
 */
class ReportWriter {
  private running: Promise<void> = Promise.resolve();
  private queued = false;
  private path: string | null = null;
  constructor(
    private readonly runDir: string,
    private readonly warn: (message: string) => void,
  ) {}

  update(): void {
    if (this.queued) return;
    this.queued = true;
    this.running = this.running.then(async () => {
      this.queued = false;
      try {
        this.path = await writeRunReport(this.runDir);
      } catch (err) {
        this.warn(`the run report could not be written: ${(err as Error).message}`);
      }
    });
  }

  /** The report's path once every requested render finished (null if none succeeded). */
  async settled(): Promise<string | null> {
    await this.running;
    return this.path;
  }
}
