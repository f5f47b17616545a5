// The chaos run: one local stack (judge replicas, reference, policy), an uninterrupted seeded GRPO
// run as the yardstick, then the same run again while planned SIGKILLs hit policy, reference, a
// judge replica and the orchestrator. What dies is brought back the way the cluster would: a judge
// or the reference is restarted at its address (a Deployment behind a Service) while training
// goes on; a dead policy stops the run, is restarted from the initial generator, and the
// orchestrator resumes with --resume from its newest checkpoint (which reloads the policy's
// weights and optimizer); a dead orchestrator is resumed the same way. At the end the two runs'
// final checkpoints must be equal byte for byte and every step must be counted once.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@grpomesh/launcher";
import { latestCheckpoint, sha256File } from "@grpomesh/loop";
import { INSECURE, createLocalCredentials, loadSecurity, type Security } from "@grpomesh/rpc";
import { firstDifference, ledgerProblems, readLog, stepLedger, type StepLedger } from "./ledger.ts";
import { ManagedProcess, describeExit, type Exit, type ManagedSpec } from "./processes.ts";
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
  /** mTLS + admin token on every service (the default); false: plaintext. */
  secure?: boolean;
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
}

export interface RunResult {
  runDir: string;
  wallMs: number;
  checkpoint: string;
  checkpointStep: number;
  files: Record<string, string>;
  weightsDigest: string;
  ledger: StepLedger;
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
  const stack = await ChaosStack.create(opts);
  const onExit = () => stack.killNow();
  process.on("exit", onExit);
  try {
    log(`chaos: starting ${opts.judges} judge replica(s), reference and policy (${stack.securityLine}; logs in ${stack.logDir})`);
    await stack.startServices();
    log(`chaos: uninterrupted run of ${opts.steps} steps (checkpoint every ${opts.checkpointInterval})`);
    const reference = await stack.runUninterrupted(join(opts.workDir, "runs", "uninterrupted"));
    log(`chaos: uninterrupted run done in ${(reference.wallMs / 1000).toFixed(1)} s (${reference.meanStepMs.toFixed(0)} ms/step); final weights ${reference.weightsDigest.slice(0, 12)}`);
    await stack.restartPolicyFresh();
    log(`chaos: the same run with ${plan.length} fault(s): ${plan.map((f) => `${stack.targetOf(f)}@${f.afterStep}`).join(", ") || "none"}`);
    const chaosDir = join(opts.workDir, "runs", "chaos");
    const { outcomes, unexplained, wallMs } = await new FaultRun(stack, plan, chaosDir, reference, opts, log).run();
    const chaos = stack.result(chaosDir, wallMs);
    const filesEqual = Object.fromEntries(COMPARED_FILES.map((f) => [f, reference.files[f] !== undefined && reference.files[f] === chaos.files[f]]));
    const problems = [...ledgerProblems(reference.ledger).map((p) => `uninterrupted run: ${p}`), ...ledgerProblems(chaos.ledger).map((p) => `chaos run: ${p}`)];
    const difference = firstDifference(reference.ledger, chaos.ledger);
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
      trajectoryDifference: difference,
      passed:
        Object.values(filesEqual).every(Boolean) &&
        weightsDigestEqual &&
        chaos.checkpointStep === opts.steps &&
        problems.length === 0 &&
        difference === undefined &&
        unexplained.length === 0 &&
        outcomes.every((o) => o.injected),
    };
  } finally {
    await stack.stopAll();
    process.off("exit", onExit);
  }
}

/** The stack's processes and how each role is started. */
class ChaosStack {
  readonly services = new Map<string, ManagedProcess>();
  private orchestrator: ManagedProcess | undefined;

  private constructor(
    private readonly opts: ChaosOptions,
    readonly logDir: string,
    private readonly security: Security,
    private readonly flags: { service: string[]; judge: string[]; orchestrator: string[] },
    readonly securityLine: string,
  ) {}

  static async create(opts: ChaosOptions): Promise<ChaosStack> {
    const logDir = join(opts.workDir, "logs");
    mkdirSync(logDir, { recursive: true });
    let security: Security = INSECURE;
    let flags = { service: [] as string[], judge: [] as string[], orchestrator: [] as string[] };
    let line = "plaintext, no admin token";
    if (opts.secure !== false) {
      const creds = await createLocalCredentials(join(opts.workDir, "secrets"));
      security = loadSecurity({ tlsDir: creds.clientTlsDir, adminTokenFile: creds.adminTokenFile });
      flags = {
        service: [`--tls_dir=${creds.serverTlsDir}`, `--admin_token_file=${creds.adminTokenFile}`],
        judge: [`--tls-dir=${creds.serverTlsDir}`, `--admin-token-file=${creds.adminTokenFile}`],
        orchestrator: [`--tls_dir=${creds.clientTlsDir}`, `--admin_token_file=${creds.adminTokenFile}`],
      };
      line = `mTLS + admin token from ${creds.dir}`;
    }
    const stack = new ChaosStack(opts, logDir, security, flags, line);
    const address = async () => `127.0.0.1:${await freePort()}`;
    for (let i = 0; i < opts.judges; i++) {
      stack.add({ name: `judge-${i}`, script: "services/judge/src/main.ts", address: await address(), flags: [`--model=${opts.judgeModel}`, "--sessions=1", "--threads=1", "--metrics-port=off", ...flags.judge] });
    }
    const engine = ["--engine=onnx", `--threads=${opts.threads}`, "--metrics-port=off", ...flags.service];
    stack.add({ name: "reference", script: "services/reference/src/main.ts", address: await address(), flags: [`--checkpoint=${opts.generator}`, ...engine] });
    // Checkpoints are confined to the runs folder (the policy refuses paths outside --checkpoint_root).
    stack.add({ name: "policy", script: "services/policy/src/main.ts", address: await address(), flags: [`--checkpoint=${opts.generator}`, `--checkpoint_root=${join(opts.workDir, "runs")}`, ...engine] });
    return stack;
  }

  private add(spec: ManagedSpec): void {
    this.services.set(spec.name, new ManagedProcess({ ...spec, flags: [...spec.flags, `--address=${spec.address}`] }, join(this.logDir, `${spec.name}.log`), this.security));
  }

  service(name: string): ManagedProcess {
    const s = this.services.get(name);
    if (!s) throw new Error(`no service named ${name}; the stack has ${[...this.services.keys()].join(", ")}`);
    return s;
  }

  targetOf(fault: PlannedFault): string {
    return fault.role === "judge" ? `judge-${fault.replica}` : fault.role;
  }

  async startServices(): Promise<void> {
    await Promise.all([...this.services.values()].map((s) => s.startServing(HEALTH_TIMEOUT_MS)));
  }

  /** The policy back to the initial generator: a fresh process at the same address. */
  async restartPolicyFresh(): Promise<number> {
    const policy = this.service("policy");
    await policy.stop();
    const t0 = performance.now();
    await policy.startServing(HEALTH_TIMEOUT_MS);
    return performance.now() - t0;
  }

  async restart(name: string): Promise<number> {
    const s = this.service(name);
    await new Promise((r) => setTimeout(r, this.opts.restartBackoffMs ?? 500));
    const t0 = performance.now();
    await s.startServing(HEALTH_TIMEOUT_MS);
    return performance.now() - t0;
  }

  /** The orchestrator of a run directory (one per run; started again with --resume). */
  orchestratorFor(runDir: string): ManagedProcess {
    mkdirSync(runDir, { recursive: true });
    const config = join(runDir, "..", `${runDir.split("/").pop()}.run.json`);
    writeFileSync(config, JSON.stringify({ ...this.opts.runConfig, max_iters: this.opts.steps, checkpoint_interval: this.opts.checkpointInterval, seed: this.opts.seed }, null, 2) + "\n");
    const judges = [...this.services.values()].filter((s) => s.spec.name.startsWith("judge-")).map((s) => s.spec.address);
    this.orchestrator = new ManagedProcess(
      {
        name: "orchestrator",
        script: "services/orchestrator/src/main.ts",
        flags: [
          `--config=${config}`,
          `--policy=${this.service("policy").spec.address}`,
          `--reference=${this.service("reference").spec.address}`,
          `--judges=${judges.join(",")}`,
          `--run_dir=${runDir}`,
          "--progress=log",
          "--log_every=1",
          ...this.flags.orchestrator,
        ],
      },
      join(this.logDir, `orchestrator-${runDir.split("/").pop()}.log`),
      this.security,
    );
    return this.orchestrator;
  }

  async runUninterrupted(runDir: string): Promise<RunResult> {
    const orch = this.orchestratorFor(runDir);
    const t0 = performance.now();
    orch.start([`--address=127.0.0.1:${await freePort()}`]);
    const exit = await orch.exited();
    if (exit.code !== 0) throw new Error(`the uninterrupted run failed (${describeExit(exit)}); last output:\n${orch.tail(20)}\nfull log: ${orch.logPath}`);
    return this.result(runDir, performance.now() - t0);
  }

  result(runDir: string, wallMs: number): RunResult {
    const checkpoint = latestCheckpoint(runDir);
    if (!checkpoint) throw new Error(`${runDir} has no checkpoint at the end of the run; expected checkpoints/latest.json naming the final one`);
    const state = JSON.parse(readFileSync(join(checkpoint, "orchestrator.json"), "utf8")) as { step: number; policy: { dir: string; weights_digest: string } };
    const files: Record<string, string> = {};
    for (const f of COMPARED_FILES) {
      const path = join(checkpoint, state.policy.dir, f);
      if (existsSync(path)) files[f] = sha256File(path);
    }
    const records = readLog(join(runDir, "log.jsonl"));
    const ledger = stepLedger(records, this.opts.steps);
    const stepMs = [...ledger.live.values()].map((r) => (r.phases as { step_ms?: number } | undefined)?.step_ms ?? 0).filter((ms) => ms > 0);
    return {
      runDir,
      wallMs,
      checkpoint,
      checkpointStep: state.step,
      files,
      weightsDigest: state.policy.weights_digest,
      ledger,
      meanStepMs: stepMs.length ? stepMs.reduce((a, b) => a + b, 0) / stepMs.length : 0,
    };
  }

  async stopAll(): Promise<void> {
    await this.orchestrator?.stop(10_000);
    await Promise.all([...this.services.values()].map((s) => s.stop()));
  }

  killNow(): void {
    this.orchestrator?.killNow();
    for (const s of this.services.values()) s.killNow();
  }
}

/** The chaos run proper: fires the plan's faults in order and brings the stack back after each. */
class FaultRun {
  private readonly orch: ManagedProcess;
  private readonly logPath: string;
  private readonly outcomes: FaultOutcome[] = [];
  private readonly unexplained: string[] = [];
  /** Progress counts only step records stamped at or after this time (epoch ms; set after each recovery). */
  private progressSince = 0;
  private t0 = 0;
  private resumes = 0;

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

  async run(): Promise<{ outcomes: FaultOutcome[]; unexplained: string[]; wallMs: number }> {
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
    return { outcomes: this.outcomes, unexplained: this.unexplained, wallMs };
  }

  private async inject(outcome: FaultOutcome, delayMs: number): Promise<void> {
    outcome.injected = true;
    outcome.atStep = this.lastLoggedStep(0);
    outcome.delayMs = delayMs;
    outcome.atS = (performance.now() - this.t0) / 1000;
    const role: Role = outcome.fault.role;
    this.log(`chaos: SIGKILL ${outcome.target} after step ${outcome.atStep} (+${delayMs} ms, t=${outcome.atS.toFixed(1)} s)`);
    if (role === "orchestrator") {
      const exit = await this.orch.kill("SIGKILL");
      outcome.events.push(`orchestrator died (${describeExit(exit)})`);
      await this.resume(outcome);
    } else if (role === "judge" || role === "reference") {
      const exit = await this.stack.service(outcome.target).kill("SIGKILL");
      outcome.events.push(`${outcome.target} died (${describeExit(exit)})`);
      const ms = await this.stack.restart(outcome.target);
      outcome.events.push(`restarted at the same address (serving after ${(ms / 1000).toFixed(1)} s)`);
      // A judge death is absorbed by the fleet (another replica scores the chunk); whether the
      // orchestrator survived the reference's is seen by waitForStep/finish, which resume it if not.
    } else {
      const exit = await this.stack.service("policy").kill("SIGKILL");
      outcome.events.push(`policy died (${describeExit(exit)})`);
      await this.orchestratorStops(outcome);
      const ms = await this.stack.restartPolicyFresh();
      outcome.events.push(`policy restarted from the initial generator (${(ms / 1000).toFixed(1)} s)`);
      await this.resume(outcome);
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
    await this.orch.stop(10_000);
  }

  /** The orchestrator again with --resume over the same run directory. */
  private async resume(outcome: FaultOutcome | undefined): Promise<void> {
    if (++this.resumes > this.plan.length * 2 + 3) throw new Error(`the orchestrator was resumed ${this.resumes - 1} times for ${this.plan.length} fault(s); giving up (see ${this.orch.logPath})`);
    const lastStep = this.lastLoggedStep(0);
    const checkpoint = latestCheckpoint(this.runDir);
    if (!checkpoint) {
      // Nothing to resume from: the policy holds steps no checkpoint has, so it starts over too.
      const ms = await this.stack.restartPolicyFresh();
      outcome?.events.push(`no checkpoint yet: policy restarted from the initial generator (${(ms / 1000).toFixed(1)} s), run started again`);
    }
    await this.startOrchestrator(true);
    const from = await this.resumedFromStep();
    if (outcome) {
      outcome.resumedFrom.push(from);
      for (let s = from + 1; s <= lastStep; s++) if (!outcome.redone.includes(s)) outcome.redone.push(s);
      outcome.events.push(from > 0 ? `orchestrator resumed from checkpoint step ${from}` : "orchestrator started from step 0");
    }
    this.log(`chaos: orchestrator resumed from step ${from} (last logged step ${lastStep})`);
  }

  private async startOrchestrator(resume: boolean): Promise<void> {
    this.orch.start([`--address=127.0.0.1:${await freePort()}`, ...(resume ? ["--resume"] : [])]);
  }

  /** The step the orchestrator's resume line names ("resumed from … at step N"); 0 when it started fresh. */
  private async resumedFromStep(): Promise<number> {
    const until = Date.now() + STEP_WAIT_MS;
    while (Date.now() < until) {
      const out = this.orch.output();
      const m = /resumed from \S+ at step (\d+)/.exec(out);
      if (m) return Number(m[1]);
      // Started from scratch: its first step record (or its serving line) comes without a resume line.
      if (/\[orchestrator\] serving on/.test(out)) return 0;
      if (!this.orch.alive) throw new Error(`the orchestrator exited (${describeExit(this.orch.lastExit!)}) while resuming; last output:\n${this.orch.tail(20)}\nfull log: ${this.orch.logPath}`);
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
    const lines = this.orch.output().split("\n").filter((l) => l.trim());
    const error = [...lines].reverse().find((l) => /error/i.test(l)) ?? lines.at(-1) ?? "no output";
    return error.replace(/^\[orchestrator\]\s*/, "").slice(0, 300);
  }

  /** Marks each fault by whether the live steps from its trigger to the next fault's match the uninterrupted run. */
  private judgeTrajectories(): void {
    const ledger = stepLedger(readLog(this.logPath), this.opts.steps);
    const injected = this.outcomes.filter((o) => o.injected);
    injected.forEach((o, i) => {
      const from = o.atStep + 1;
      const to = injected[i + 1]?.atStep ?? this.opts.steps;
      let compared = 0, equal = true;
      for (let s = from; s <= to; s++) {
        const a = this.reference.ledger.live.get(s);
        const b = ledger.live.get(s);
        if (!a || !b) {
          equal = false;
          continue;
        }
        compared++;
        const oneStep = firstDifference(
          { ...this.reference.ledger, live: new Map([[s, a]]) },
          { ...ledger, live: new Map([[s, b]]) },
        );
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
    if (!existsSync(this.logPath)) return 0;
    const lines = readFileSync(this.logPath, "utf8").split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!;
      if (!line.includes('"type":"step"')) continue;
      let r: { step: number; time: string; superseded?: boolean };
      try {
        r = JSON.parse(line) as typeof r;
      } catch {
        continue; // a line being written: the one before it counts
      }
      if (r.superseded) continue;
      return Date.parse(r.time) >= sinceMs ? r.step : 0;
    }
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export type { Exit };
