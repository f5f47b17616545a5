// The chaos run: the local stack as `npm start` runs it (judge replicas, reference, policy), an
// uninterrupted seeded GRPO run as the yardstick, then the same run again while planned SIGKILLs
// hit policy, reference, a judge replica and the orchestrator. What dies comes back the way the
// cluster would bring it back: the launcher's supervisor restarts a judge or the reference at its
// address with backoff (a Deployment behind a Service) and training should go on meanwhile; a
// dead policy stops the run, is restarted from the initial generator, and the orchestrator resumes
// with --resume from its newest checkpoint (which reloads the policy's weights and optimizer); a
// dead orchestrator is resumed the same way. At the end the two runs' final checkpoints must be
// equal byte for byte, every step must be counted once, and each death must have been handled as
// its role's should be.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Supervisor, freePort, startStack, tsxProcess, type Stack } from "@grpomesh/launcher";
import { latestCheckpoint, readLog, verifyCheckpoint } from "@grpomesh/loop";
import { firstDifference, ledgerProblems, stepLedger, type StepLedger } from "./ledger.ts";
import { Restartable, describeExit, type Exit } from "./processes.ts";
import { planFaults, type PlannedFault, type Role } from "./plan.ts";

export interface ChaosOptions {
  seed: number;
  faults: number;
  steps: number;
  /** Explicit faults ("judge@3,policy@6"); replaces the seeded draw. */
  plan?: string;
  judges: number;
  checkpointInterval: number;
  /** Orchestrator run settings (a configs/*.json object); steps, checkpoint interval and seed override it. */
  runConfig: Record<string, unknown>;
  generator: string;
  judgeModel: string;
  /** Runs, logs and credentials go here. */
  workDir: string;
  /** onnxruntime threads for policy and reference (fixed, so every run reduces in the same order). */
  threads: number;
  /** Mutual TLS between the services (default); false: plaintext gRPC (the admin token is still required). */
  tls?: boolean;
  /** A judge or the reference waits this long before it is started again (a Deployment's restart backoff). */
  restartBackoffMs?: number;
  /** How long an orchestrator may take to notice a dead policy and exit before it is stopped. */
  orchestratorStopMs?: number;
  log?: (line: string) => void;
}

export interface FaultOutcome {
  fault: PlannedFault;
  /** The process that was killed, e.g. judge-1. */
  target: string;
  signal: NodeJS.Signals;
  injected: boolean;
  /** The last step the run had logged when the signal was sent. */
  atStep: number;
  /** Milliseconds after the last logged step that the signal was sent. */
  delayMs: number;
  /** Seconds since the chaos run started. */
  atS: number;
  /** What happened, in order (restarts, orchestrator exits, resumes). */
  events: string[];
  /** Checkpoint steps the orchestrator resumed from because of this fault. */
  resumedFrom: number[];
  /** Steps that had been logged and were done again after a resume. */
  redone: number[];
  /** Steps from this fault up to the next one whose live record matches the uninterrupted run's (null: none to compare). */
  stepsAfterEqual: boolean | null;
  /** Byte offset of the orchestrator's log when the signal was sent (to find what it said about the fault). */
  orchestratorLogOffset: number;
}

export interface RunResult {
  runDir: string;
  wallMs: number;
  checkpoint: string;
  checkpointStep: number;
  files: Record<string, string>;
  weightsDigest: string;
  ledger: StepLedger;
  /** Step numbers of the records a resume moved to log.superseded.jsonl. */
  supersededSteps: number[];
  meanStepMs: number;
}

export interface ChaosReport {
  options: Omit<ChaosOptions, "log">;
  security: string;
  plan: PlannedFault[];
  outcomes: FaultOutcome[];
  /** Orchestrator failures that no fault explains. */
  unexplained: string[];
  reference: RunResult;
  chaos: RunResult;
  /** File name → equal in both final checkpoints. */
  filesEqual: Record<string, boolean>;
  weightsDigestEqual: boolean;
  ledgerProblems: string[];
  /** Deaths not handled as their role's should be (e.g. a judge's death that stopped the run). */
  behaviourProblems: string[];
  trajectoryDifference: ReturnType<typeof firstDifference>;
  passed: boolean;
}

/** The checkpoint files whose bytes must match: the policy's weights and optimizer state. */
export const COMPARED_FILES = ["model.safetensors", "optimizer.safetensors"] as const;

const HEALTH_TIMEOUT_MS = 180_000;
const STEP_WAIT_MS = 600_000;
const POLL_MS = 25;

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const plan = planFaults({ seed: opts.seed, faults: opts.faults, steps: opts.steps, judges: opts.judges, spec: opts.plan });
  mkdirSync(opts.workDir, { recursive: true });
  const stack = new ChaosStack(opts, join(opts.workDir, "logs"));
  const onExit = () => stack.killNow();
  process.on("exit", onExit);
  try {
    log(`chaos: starting ${opts.judges} judge replica(s), reference and policy (logs in ${stack.logDir})`);
    await stack.start();
    log(`chaos: stack ready (${stack.securityLine})`);
    log(`chaos: uninterrupted run of ${opts.steps} steps (checkpoint every ${opts.checkpointInterval})`);
    const reference = await stack.runUninterrupted(join(opts.workDir, "runs", "uninterrupted"));
    log(
      `chaos: uninterrupted run done in ${(reference.wallMs / 1000).toFixed(1)} s (${reference.meanStepMs.toFixed(0)} ms/step); final weights ${reference.weightsDigest.slice(0, 12)}`,
    );
    await stack.restartPolicyFresh();
    log(`chaos: the same run with ${plan.length} fault(s): ${plan.map((f) => `${stack.targetOf(f)}@${f.afterStep}`).join(", ") || "none"}`);
    const chaosDir = join(opts.workDir, "runs", "chaos");
    const { outcomes, unexplained, wallMs, resumed, restartedSteps } = await new FaultRun(stack, plan, chaosDir, reference, opts, log).run();
    const chaos = stack.result(chaosDir, wallMs);
    const filesEqual = Object.fromEntries(COMPARED_FILES.map((f) => [f, reference.files[f] !== undefined && reference.files[f] === chaos.files[f]]));
    const problems = [
      ...ledgerProblems(reference.ledger).map((p) => `uninterrupted run: ${p}`),
      ...ledgerProblems(chaos.ledger).map((p) => `chaos run: ${p}`),
      ...resumeProblems(chaos, outcomes, resumed, restartedSteps),
    ];
    const difference = firstDifference(reference.ledger, chaos.ledger);
    const behaviour = behaviourProblems(outcomes);
    const weightsDigestEqual = reference.weightsDigest === chaos.weightsDigest;
    return {
      options: { ...opts, log: undefined } as Omit<ChaosOptions, "log">,
      security: stack.securityLine,
      plan,
      outcomes,
      unexplained,
      reference,
      chaos,
      filesEqual,
      weightsDigestEqual,
      ledgerProblems: problems,
      behaviourProblems: behaviour,
      trajectoryDifference: difference,
      passed:
        Object.values(filesEqual).every(Boolean) &&
        weightsDigestEqual &&
        chaos.checkpointStep === opts.steps &&
        problems.length === 0 &&
        behaviour.length === 0 &&
        difference === undefined &&
        unexplained.length === 0 &&
        outcomes.every((o) => o.injected),
    };
  } finally {
    await stack.stopAll();
    process.off("exit", onExit);
  }
}

/**
 * A judge replica or the reference is restarted by the supervisor while training goes on (the
 * fleet retries a chunk on another replica; the orchestrator waits for the reference): neither
 * death may stop the orchestrator. A policy or orchestrator death is recovered by a resume.
 */
function behaviourProblems(outcomes: FaultOutcome[]): string[] {
  const problems: string[] = [];
  for (const o of outcomes.filter((x) => x.injected)) {
    const stopped = o.events.find((e) => e.startsWith("orchestrator exited"));
    if ((o.fault.role === "judge" || o.fault.role === "reference") && o.resumedFrom.length > 0) {
      problems.push(
        `${o.target}'s death stopped the orchestrator (${stopped ?? "it exited"}); training should go on while the supervisor restarts ${o.target}`,
      );
    }
    if ((o.fault.role === "policy" || o.fault.role === "orchestrator") && o.resumedFrom.length === 0) {
      problems.push(`the ${o.fault.role}'s death was not followed by a resume`);
    }
  }
  return problems;
}

/**
 * Whether the log tells the resumes as they happened: one "resume" record per resume, and the
 * redone steps' first records in log.superseded.jsonl (none left in log.jsonl).
 */
function resumeProblems(chaos: RunResult, outcomes: FaultOutcome[], resumed: number, restartedSteps: number[]): string[] {
  const problems: string[] = [];
  if (chaos.ledger.resumes.length !== resumed)
    problems.push(`chaos run: log.jsonl has ${chaos.ledger.resumes.length} "resume" record(s); the orchestrator resumed ${resumed} time(s)`);
  const redone = outcomes.flatMap((o) => o.redone);
  for (const s of restartedSteps) redone.splice(redone.indexOf(s), 1);
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b).join(",");
  if (sorted(redone) !== sorted(chaos.supersededSteps)) {
    problems.push(
      `chaos run: log.superseded.jsonl holds step records ${sorted(chaos.supersededSteps) || "(none)"}; the resumes redid steps ${sorted(redone) || "(none)"}`,
    );
  }
  return problems;
}

/**
 * The stack as `npm start` runs it (the launcher's startStack and Supervisor: mTLS and an admin
 * token, judges and the reference restarted with backoff when they die, the policy not), plus
 * what the chaos run starts itself on the same supervisor: each run's orchestrator, and the policy
 * once it was killed.
 */
class ChaosStack {
  private readonly said: Array<{ atMs: number; line: string }> = [];
  private readonly supervisor: Supervisor;
  private stack: Stack | undefined;
  /** The policy, which the supervisor does not restart (the chaos run does). */
  private policyProcess: Restartable | undefined;

  constructor(
    private readonly opts: ChaosOptions,
    readonly logDir: string,
  ) {
    mkdirSync(logDir, { recursive: true });
    this.supervisor = new Supervisor(logDir, { say: (line) => this.said.push({ atMs: performance.now(), line }) });
  }

  async start(): Promise<void> {
    this.stack = await startStack(
      {
        generator: this.opts.generator,
        judgeModel: this.opts.judgeModel,
        judges: this.opts.judges,
        logDir: this.logDir,
        engine: "onnx",
        threads: this.opts.threads,
        secretsDir: join(this.opts.workDir, "secrets"),
        tls: this.opts.tls ?? true,
        // Both runs' directories lie under runs/: the policy's SaveCheckpoint must reach them.
        checkpointRoot: join(this.opts.workDir, "runs"),
        restart: { initialBackoffMs: this.opts.restartBackoffMs ?? 1_000 },
        timeoutMs: HEALTH_TIMEOUT_MS,
      },
      this.supervisor,
    );
  }

  private get s(): Stack {
    if (!this.stack) throw new Error("the stack is not started");
    return this.stack;
  }

  get securityLine(): string {
    const c = this.s.credentials;
    if (!c) return "plaintext, no admin token";
    return `${this.s.clientSecurity.tls ? "mTLS" : "plaintext gRPC"} + admin token, credentials in ${c.dir}`;
  }

  /** A service's gRPC address (judge-0, reference, policy). */
  address(name: string): string {
    if (name === "policy") return this.s.policy;
    if (name === "reference") return this.s.reference;
    const judge = this.s.services[name];
    if (!judge) throw new Error(`no service named ${name}`);
    return judge.address;
  }

  targetOf(fault: PlannedFault): string {
    return fault.role === "judge" ? `judge-${fault.replica}` : fault.role;
  }

  /** SIGKILL to a supervised service's current process (as the kernel's OOM killer would send it); resolves when it is gone. */
  async killSupervised(name: string): Promise<Exit> {
    const child = this.supervisor.get(name).child;
    if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
    const gone = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    child.kill("SIGKILL");
    return gone;
  }

  /** What the supervisor said since `fromIndex`. */
  saidSince(fromIndex: number): string[] {
    return this.said.slice(fromIndex).map((s) => s.line);
  }

  get saidCount(): number {
    return this.said.length;
  }

  /**
   * Waits until the supervisor says it restarted `name` and the process is ready again (start line
   * and health check); returns its words: the backoff and how long the new process took.
   */
  async supervisorRestarted(name: string, fromIndex: number): Promise<string[]> {
    let gaveUp = false;
    void this.supervisor.get(name).exited.then(() => (gaveUp = true));
    const until = Date.now() + HEALTH_TIMEOUT_MS + 60_000;
    while (Date.now() < until) {
      const lines = this.saidSince(fromIndex).filter((l) => l.startsWith(`${name} `));
      if (lines.some((l) => l.startsWith(`${name} restarted and ready again`))) return lines;
      if (gaveUp) throw new Error(`the launcher's supervisor gave up on ${name}: ${lines.join(" / ")}; see ${this.supervisor.logPath(name)}`);
      await sleep(POLL_MS * 4);
    }
    throw new Error(
      `the launcher's supervisor did not restart ${name} within ${(HEALTH_TIMEOUT_MS + 60_000) / 1000} s; it said: ${this.saidSince(fromIndex).join(" / ") || "nothing"}; see ${this.supervisor.logPath(name)}`,
    );
  }

  private get policy(): Restartable {
    return (this.policyProcess ??= new Restartable(this.supervisor, this.supervisor.get("policy").spec));
  }

  killPolicy(): Promise<Exit> {
    return this.policy.stop({ signal: "SIGKILL" });
  }

  /** The policy back to the initial generator: a fresh process with the same command line (so the same address). */
  async restartPolicyFresh(): Promise<number> {
    await this.policy.stop();
    const t0 = performance.now();
    await this.policy.start([], HEALTH_TIMEOUT_MS);
    return performance.now() - t0;
  }

  /** The orchestrator of a run directory (one per run; started again with --resume). */
  orchestratorFor(runDir: string): Restartable {
    mkdirSync(runDir, { recursive: true });
    const name = basename(runDir);
    const config = join(dirname(runDir), `${name}.run.json`);
    writeFileSync(
      config,
      JSON.stringify({ ...this.opts.runConfig, max_iters: this.opts.steps, checkpoint_interval: this.opts.checkpointInterval, seed: this.opts.seed }, null, 2) +
        "\n",
    );
    return new Restartable(
      this.supervisor,
      tsxProcess(`orchestrator-${name}`, "services/orchestrator/src/main.ts", [
        `--config=${config}`,
        ...this.s.orchestratorFlags,
        `--run_dir=${runDir}`,
        "--progress=log",
        "--log_every=1",
      ]),
    );
  }

  async runUninterrupted(runDir: string): Promise<RunResult> {
    const orch = this.orchestratorFor(runDir);
    const t0 = performance.now();
    await orch.start([`--address=127.0.0.1:${await freePort()}`]);
    const exit = await orch.exited();
    if (exit.code !== 0) throw new Error(`the uninterrupted run failed (${describeExit(exit)}); last output:\n${orch.tail(20)}\nfull log: ${orch.logPath}`);
    return this.result(runDir, performance.now() - t0);
  }

  result(runDir: string, wallMs: number): RunResult {
    const checkpoint = latestCheckpoint(runDir);
    if (!checkpoint) throw new Error(`${runDir} has no checkpoint at the end of the run; expected checkpoints/latest.json naming the final one`);
    // Checked: every policy file's sha256 is the one the checkpoint recorded.
    const state = verifyCheckpoint(checkpoint);
    const files = Object.fromEntries(COMPARED_FILES.filter((f) => f in state.policy.files).map((f) => [f, state.policy.files[f]!]));
    const ledger = stepLedger(readLog(join(runDir, "log.jsonl")).records, this.opts.steps);
    const superseded = join(runDir, "log.superseded.jsonl");
    const supersededSteps = readLog(superseded)
      .records.filter((r) => r.type === "step")
      .map((r) => r.step!);
    const stepMs = [...ledger.live.values()].map((r) => (r.phases as { step_ms?: number } | undefined)?.step_ms ?? 0).filter((ms) => ms > 0);
    return {
      runDir,
      wallMs,
      checkpoint,
      checkpointStep: state.step,
      files,
      weightsDigest: state.policy.weights_digest,
      ledger,
      supersededSteps,
      meanStepMs: stepMs.length ? stepMs.reduce((a, b) => a + b, 0) / stepMs.length : 0,
    };
  }

  stopAll(): Promise<void> {
    return this.supervisor.stopAll(10_000);
  }

  killNow(): void {
    this.supervisor.killAllNow();
  }
}

/** The chaos run proper: fires the plan's faults in order and brings the stack back after each. */
class FaultRun {
  private readonly orch: Restartable;
  private readonly logPath: string;
  private readonly outcomes: FaultOutcome[] = [];
  private readonly unexplained: string[] = [];
  /** Progress counts only step records stamped at or after this time (epoch ms; set after each recovery). */
  private progressSince = 0;
  private t0 = 0;
  private resumes = 0;
  /** Resumes from a checkpoint (each must leave a "resume" record in log.jsonl). */
  resumedCount = 0;
  /** Steps done again from scratch because the run was moved aside (no checkpoint yet). */
  readonly restartedSteps: number[] = [];

  constructor(
    private readonly stack: ChaosStack,
    private readonly plan: PlannedFault[],
    private readonly runDir: string,
    private readonly reference: RunResult,
    private readonly opts: ChaosOptions,
    private readonly log: (line: string) => void,
  ) {
    this.orch = stack.orchestratorFor(runDir);
    this.logPath = join(runDir, "log.jsonl");
  }

  async run(): Promise<{ outcomes: FaultOutcome[]; unexplained: string[]; wallMs: number; resumed: number; restartedSteps: number[] }> {
    this.t0 = performance.now();
    await this.startOrchestrator(false);
    for (const fault of this.plan) {
      const outcome: FaultOutcome = {
        fault,
        target: this.stack.targetOf(fault),
        signal: "SIGKILL",
        injected: false,
        atStep: 0,
        delayMs: 0,
        atS: 0,
        events: [],
        resumedFrom: [],
        redone: [],
        stepsAfterEqual: null,
        orchestratorLogOffset: 0,
      };
      if (!(await this.waitForStep(fault.afterStep))) {
        outcome.events.push("not injected: the run had finished");
        this.outcomes.push(outcome);
        continue;
      }
      const delayMs = Math.round(fault.delayFraction * this.reference.meanStepMs);
      await sleep(delayMs);
      if (!this.orch.alive && this.orch.lastExit?.code === 0) {
        outcome.events.push("not injected: the run had finished");
        this.outcomes.push(outcome);
        continue;
      }
      this.outcomes.push(outcome);
      await this.inject(outcome, delayMs);
    }
    await this.finish();
    const wallMs = performance.now() - this.t0;
    this.judgeTrajectories();
    this.fleetRetries();
    return { outcomes: this.outcomes, unexplained: this.unexplained, wallMs, resumed: this.resumedCount, restartedSteps: this.restartedSteps };
  }

  private async inject(outcome: FaultOutcome, delayMs: number): Promise<void> {
    outcome.injected = true;
    outcome.atStep = this.lastLoggedStep(0);
    outcome.delayMs = delayMs;
    outcome.atS = (performance.now() - this.t0) / 1000;
    outcome.orchestratorLogOffset = existsSync(this.orch.logPath) ? statSync(this.orch.logPath).size : 0;
    const role: Role = outcome.fault.role;
    this.log(`chaos: SIGKILL ${outcome.target} after step ${outcome.atStep} (+${delayMs} ms, t=${outcome.atS.toFixed(1)} s)`);
    if (role === "orchestrator") {
      const exit = await this.orch.stop({ signal: "SIGKILL" });
      outcome.events.push(`orchestrator died (${describeExit(exit)})`);
      await this.resume(outcome);
    } else if (role === "judge" || role === "reference") {
      // The launcher's supervisor restarts these (with backoff, at the same address). A judge's
      // death should be absorbed by the fleet (another replica scores the chunk), the reference's
      // by the orchestrator waiting for it; if the orchestrator fails instead, waitForStep/finish
      // see it exit and resume it, and the table says so.
      const said = this.stack.saidCount;
      const exit = await this.stack.killSupervised(outcome.target);
      outcome.events.push(`${outcome.target} died (${describeExit(exit)})`);
      outcome.events.push(restartWords(await this.stack.supervisorRestarted(outcome.target, said)));
    } else {
      const exit = await this.stack.killPolicy();
      outcome.events.push(`policy died (${describeExit(exit)})`);
      await this.orchestratorStops(outcome);
      const ms = await this.stack.restartPolicyFresh();
      outcome.events.push(`policy restarted from the initial generator (${(ms / 1000).toFixed(1)} s)`);
      await this.resume(outcome, { policyFresh: true });
    }
    this.progressSince = Date.now();
  }

  /** After the policy's death the orchestrator must stop on its own (its next policy call fails); stopped if it does not. */
  private async orchestratorStops(outcome: FaultOutcome): Promise<void> {
    const limit = this.opts.orchestratorStopMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([this.orch.exited(), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), limit)))]);
    clearTimeout(timer);
    if (exit) {
      outcome.events.push(`orchestrator stopped (${describeExit(exit)}: ${this.orchestratorError()})`);
      return;
    }
    outcome.events.push(`orchestrator still running ${limit / 1000} s after the policy died; stopped it`);
    this.unexplained.push(`the orchestrator did not stop within ${limit / 1000} s after the policy died (${outcome.target} at step ${outcome.atStep})`);
    await this.orch.stop({ graceMs: 10_000 });
  }

  /** The orchestrator again with --resume over the same run directory. */
  private async resume(outcome: FaultOutcome | undefined, { policyFresh = false } = {}): Promise<void> {
    if (++this.resumes > this.plan.length * 2 + 3)
      throw new Error(`the orchestrator was resumed ${this.resumes - 1} times for ${this.plan.length} fault(s); giving up (see ${this.orch.logPath})`);
    const lastStep = this.lastLoggedStep(0);
    if (!latestCheckpoint(this.runDir) && existsSync(join(this.runDir, "log.jsonl"))) {
      // Nothing to resume from, and --resume refuses to start over a run's log: the run is moved
      // aside and started again from scratch, with the policy back at the initial generator.
      const aside = `${this.runDir}.before-fault-${this.outcomes.length}`;
      renameSync(this.runDir, aside);
      const ms = policyFresh ? 0 : await this.stack.restartPolicyFresh();
      outcome?.events.push(
        `no checkpoint yet: run moved to ${basename(aside)}${policyFresh ? "" : `, policy restarted from the initial generator (${(ms / 1000).toFixed(1)} s)`}, run started again from step 0`,
      );
      for (let s = 1; s <= lastStep; s++) this.restartedSteps.push(s);
      if (outcome) for (let s = 1; s <= lastStep; s++) outcome.redone.push(s);
      await this.startOrchestrator(false);
      outcome?.resumedFrom.push(0);
      return;
    }
    await this.startOrchestrator(true);
    const from = await this.resumedFromStep();
    this.resumedCount++;
    if (outcome) {
      outcome.resumedFrom.push(from);
      for (let s = from + 1; s <= lastStep; s++) outcome.redone.push(s);
      outcome.events.push(`orchestrator resumed from checkpoint step ${from}`);
    }
    this.log(`chaos: orchestrator resumed from step ${from} (last logged step ${lastStep})`);
  }

  private async startOrchestrator(resume: boolean): Promise<void> {
    await this.orch.start([`--address=127.0.0.1:${await freePort()}`, ...(resume ? ["--resume"] : [])]);
  }

  /** The step the orchestrator's resume line names ("resumed from … at step N"). */
  private async resumedFromStep(): Promise<number> {
    const until = Date.now() + STEP_WAIT_MS;
    while (Date.now() < until) {
      const out = this.orch.output();
      const m = /resumed from \S+ at step (\d+)/.exec(out);
      if (m) return Number(m[1]);
      if (/\[orchestrator\] serving on/.test(out))
        throw new Error(`the orchestrator started with --resume but did not resume (no "resumed from" line before it served); see ${this.orch.logPath}`);
      if (!this.orch.alive)
        throw new Error(
          `the orchestrator exited (${describeExit(this.orch.lastExit!)}) while resuming; last output:\n${this.orch.tail(20)}\nfull log: ${this.orch.logPath}`,
        );
      await sleep(POLL_MS * 4);
    }
    throw new Error(`the orchestrator did not report its resume within ${STEP_WAIT_MS / 1000} s; see ${this.orch.logPath}`);
  }

  /**
   * Waits until the run logs `step` (counting only records written since the last recovery).
   * An orchestrator that exits on its own meanwhile: 0 → the run finished (false); otherwise it
   * failed, which the last fault must explain, and it is resumed.
   */
  private async waitForStep(step: number): Promise<boolean> {
    const until = Date.now() + STEP_WAIT_MS;
    while (Date.now() < until) {
      if (this.lastLoggedStep(this.progressSince) >= step) return true;
      if (!this.orch.alive) {
        if (this.orch.lastExit?.code === 0) return false;
        await this.orchestratorFailed();
      }
      await sleep(POLL_MS);
    }
    throw new Error(`the run did not reach step ${step} within ${STEP_WAIT_MS / 1000} s; see ${this.orch.logPath}`);
  }

  /** Lets the run end, resuming the orchestrator whenever it fails. */
  private async finish(): Promise<void> {
    for (;;) {
      const exit = await this.orch.exited();
      if (exit.code === 0) return;
      await this.orchestratorFailed();
    }
  }

  private async orchestratorFailed(): Promise<void> {
    const exit = this.orch.lastExit!;
    const reason = `orchestrator exited (${describeExit(exit)}: ${this.orchestratorError()})`;
    const last = this.outcomes.at(-1);
    if (last) last.events.push(reason);
    else this.unexplained.push(`${reason} before any fault`);
    this.log(`chaos: ${reason}`);
    await this.resume(last);
    this.progressSince = Date.now();
  }

  /** The orchestrator's last error line (or its last line). */
  private orchestratorError(): string {
    const lines = this.orch
      .output()
      .split("\n")
      .filter((l) => l.trim());
    const error = [...lines].reverse().find((l) => /error/i.test(l)) ?? lines.at(-1) ?? "no output";
    return error.replace(/^\[orchestrator\]\s*/, "").slice(0, 300);
  }

  /** For a judge's death: how many chunks the orchestrator's fleet retried on another replica (what kept training going). */
  private fleetRetries(): void {
    const injected = this.outcomes.filter((o) => o.injected);
    const log = readFileSync(this.orch.logPath);
    injected.forEach((o, i) => {
      if (o.fault.role !== "judge") return;
      const address = this.stack.address(o.target);
      const text = log.subarray(o.orchestratorLogOffset, injected[i + 1]?.orchestratorLogOffset ?? log.length).toString("utf8");
      const retried = text.split("\n").filter((l) => l.includes(`failed at ${address}`) && l.includes("retrying on another replica")).length;
      const at = o.events.findIndex((e) => e.startsWith("restarted by"));
      o.events.splice(
        at >= 0 ? at : o.events.length,
        0,
        retried ? `the fleet retried ${retried} chunk(s) on another replica` : "no chunk was sent to it while it was down",
      );
    });
  }

  /** Marks each fault by whether the live steps from its trigger to the next fault's match the uninterrupted run. */
  private judgeTrajectories(): void {
    const ledger = stepLedger(readLog(this.logPath).records, this.opts.steps);
    const injected = this.outcomes.filter((o) => o.injected);
    injected.forEach((o, i) => {
      const from = o.atStep + 1;
      const to = injected[i + 1]?.atStep ?? this.opts.steps;
      let compared = 0,
        equal = true;
      for (let s = from; s <= to; s++) {
        const a = this.reference.ledger.live.get(s);
        const b = ledger.live.get(s);
        if (!a || !b) {
          equal = false;
          continue;
        }
        compared++;
        const oneStep = firstDifference({ ...this.reference.ledger, live: new Map([[s, a]]) }, { ...ledger, live: new Map([[s, b]]) });
        if (oneStep) equal = false;
      }
      o.stepsAfterEqual = compared === 0 && equal ? null : equal;
    });
  }

  /**
   * The step of the last live step record in log.jsonl if it was stamped at or after `sinceMs`
   * (epoch ms), else 0. Time stamps, not offsets: a resume may cut the log back or mark records.
   */
  private lastLoggedStep(sinceMs: number): number {
    // A line still being written is left out (readLog's partial last line).
    const last = readLog(this.logPath).records.findLast((r) => r.type === "step" && !r.superseded);
    return last && Date.parse(last.time ?? "") >= sinceMs ? last.step! : 0;
  }
}

/** The supervisor's words about a restart, short: "restarted by the launcher's supervisor at the same address (backoff 1.0 s, ready after 2.3 s)". */
function restartWords(lines: string[]): string {
  const backoff = lines.map((l) => /restarting it in ([\d.]+) s/.exec(l)?.[1]).find(Boolean);
  const ready = lines.map((l) => /restarted and ready again \(([\d.]+) s/.exec(l)?.[1]).find(Boolean);
  return `restarted by the launcher's supervisor at the same address (backoff ${backoff ?? "?"} s, ready after ${ready ?? "?"} s)`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export type { Exit };
