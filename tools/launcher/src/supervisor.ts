// Starts the stack's processes and keeps them running the way the cluster would: a process counts
// as ready once it has printed its start line and answers its gRPC health check; one with a restart
// policy that dies after it was ready is started again with exponential backoff (as a Deployment
// restarts a pod), until it fails too often too quickly; any other death is fatal and reported
// with the process's name, exit code or signal, and last words. Processes stop in the reverse
// order of their start (the orchestrator before the services it needs).
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { INSECURE, waitForServing, type Security } from "@grpomesh/rpc";

export interface RestartPolicy {
  /** Give up after this many failures in a row, each within `quickMs` of its start. */
  maxQuickFailures: number;
  /** Wait before the first restart; doubled after each quick failure. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A process that ran at least this long before dying starts a fresh count (and backoff). */
  quickMs: number;
  /** How long a restarted process has to become ready; past it, it counts as a failure. */
  readyTimeoutMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { maxQuickFailures: 5, initialBackoffMs: 1_000, maxBackoffMs: 30_000, quickMs: 60_000, readyTimeoutMs: 180_000 };

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** gRPC address to health-check before the process counts as ready. */
  healthTarget?: string;
  /** Credentials for the health check (the stack's client certificate); default plaintext. */
  healthSecurity?: Security;
  /** A line the process prints on stdout once it serves (its start line): it counts as ready only after it. */
  readyLine?: RegExp;
  /** Show this process's output on the console (else only in its log file). */
  foreground?: boolean;
  /** Start it again when it dies after having been ready; without it, its death is fatal. */
  restart?: Partial<RestartPolicy>;
  /** Stay in the caller's process group, so a terminal's Ctrl-C reaches it too (default: a group of its own). */
  sameGroup?: boolean;
}

export interface Running {
  readonly spec: ProcessSpec;
  /** The current child (a new one after each restart). */
  child: ChildProcess;
  /** The current child's start line (the first that matched `readyLine`), once printed. */
  startLine: string | undefined;
  /** Times it was started again after dying. */
  restarts: number;
  tail: string[];
  /** Resolves with the exit code when the current child is gone for good (not restarted). */
  exited: Promise<number | null>;
  /** Set before an exit that is not a failure (the orchestrator finishing, a stop). */
  expectedExit: boolean;
  /** Stop order: processes started later stop earlier. */
  readonly tier: number;
}

interface Internal extends Running {
  log: WriteStream;
  startedAt: number;
  everReady: boolean;
  quickFailures: number;
  resolveExited: (code: number | null) => void;
  /** Settles when the current child prints its start line; rejects when it exits first. */
  lineSeen: Promise<string>;
  restartTimer?: NodeJS.Timeout;
}

export class ChildDiedError extends Error {
  constructor(
    readonly processName: string,
    readonly code: number | null,
    readonly signal: string | null,
    readonly tail: string[],
    readonly logPath: string,
    /** Why it is fatal when the process had a restart policy (e.g. "gave up after 5 quick failures"). */
    readonly gaveUp?: string,
  ) {
    super(
      `${processName} ${gaveUp ? `died again (${describeExit(code, signal)}); ${gaveUp}` : `exited unexpectedly (${describeExit(code, signal)})`}; last output:\n` +
        (tail.length ? tail.map((l) => `  | ${l}`).join("\n") : "  | (nothing)") +
        `\nfull log: ${logPath}`,
    );
    this.name = "ChildDiedError";
  }
}

export function describeExit(code: number | null, signal: string | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

const TAIL_LINES = 15;

export interface SupervisorOptions {
  /** Where the supervisor says what it does on its own: restarts, and giving up. */
  say?: (line: string) => void;
}

export class Supervisor {
  private running: Internal[] = [];
  private stopping = false;
  private tiers = 0;
  private deathListeners: Array<(err: ChildDiedError) => void> = [];
  /** Rejects with a ChildDiedError when a process dies for good before stopAll() (restarts do not count). */
  readonly died: Promise<never>;

  constructor(
    private readonly logDir: string,
    private readonly opts: SupervisorOptions = {},
  ) {
    mkdirSync(logDir, { recursive: true });
    this.died = new Promise<never>((_, reject) => this.deathListeners.push(reject));
    this.died.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  logPath(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  /**
   * Starts one process (in a tier of its own: it is stopped before everything started earlier). A
   * name whose process is gone for good may be started again (e.g. a job resumed).
   */
  start(spec: ProcessSpec): Running {
    return this.launch(spec, this.tiers++);
  }

  private launch(spec: ProcessSpec, tier: number): Internal {
    const old = this.running.find((r) => r.spec.name === spec.name);
    if (old && (alive(old.child) || old.restartTimer)) throw new Error(`a process named ${spec.name} is already supervised`);
    this.running = this.running.filter((r) => r !== old);
    let resolveExited!: (code: number | null) => void;
    const exited = new Promise<number | null>((r) => (resolveExited = r));
    const entry = {
      spec,
      tier,
      child: undefined as unknown as ChildProcess,
      startLine: undefined,
      restarts: 0,
      tail: [],
      exited,
      expectedExit: false,
      log: createWriteStream(this.logPath(spec.name), { flags: "a" }),
      startedAt: 0,
      everReady: false,
      quickFailures: 0,
      resolveExited,
      lineSeen: Promise.resolve(""),
    } as Internal;
    this.running.push(entry);
    this.spawnChild(entry);
    return entry;
  }

  private spawnChild(entry: Internal): void {
    const { spec } = entry;
    // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the
    // stack in order (orchestrator first, so it can finish its step) instead of all at once.
    const child = spawn(spec.command, spec.args, {
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: !spec.sameGroup,
    });
    entry.child = child;
    entry.startedAt = Date.now();
    entry.startLine = undefined;
    let lineFound!: (line: string) => void;
    let lineMissing!: (err: Error) => void;
    entry.lineSeen = new Promise<string>((resolve, reject) => ((lineFound = resolve), (lineMissing = reject)));
    entry.lineSeen.catch(() => {});

    const onLine = (line: string, fromStdout: boolean) => {
      const clean = line.replace(/\r/g, "");
      if (clean.trim()) entry.tail.push(clean.slice(0, 400));
      if (entry.tail.length > TAIL_LINES) entry.tail.splice(0, entry.tail.length - TAIL_LINES);
      if (fromStdout && entry.startLine === undefined && spec.readyLine?.test(clean)) {
        entry.startLine = clean;
        lineFound(clean);
      }
    };
    const pipe = (stream: NodeJS.ReadableStream, echo: NodeJS.WritableStream | null, fromStdout: boolean) => {
      let partial = "";
      stream.on("data", (chunk: Buffer) => {
        if (child === entry.child) entry.log.write(chunk);
        echo?.write(chunk);
        const lines = (partial + chunk.toString("utf8")).split("\n");
        partial = lines.pop()!;
        for (const line of lines) onLine(line, fromStdout);
      });
      stream.on("end", () => partial && onLine(partial, fromStdout));
    };
    pipe(child.stdout!, spec.foreground ? process.stdout : null, true);
    pipe(child.stderr!, spec.foreground ? process.stderr : null, false);
    child.once("error", (err) => entry.tail.push(`failed to start: ${err.message}`));
    child.once("close", (code, signal) => {
      lineMissing(new Error(`${spec.name} exited (${describeExit(code, signal)}) before its start line`));
      this.onClose(entry, code, signal);
    });
  }

  private onClose(entry: Internal, code: number | null, signal: string | null): void {
    const { spec } = entry;
    if (this.stopping || entry.expectedExit) {
      entry.log.end();
      entry.resolveExited(code);
      return;
    }
    const policy = spec.restart ? { ...DEFAULT_RESTART, ...spec.restart } : undefined;
    const ranMs = Date.now() - entry.startedAt;
    entry.quickFailures = ranMs < (policy?.quickMs ?? 0) ? entry.quickFailures + 1 : 1;
    let fatal: string | undefined;
    // Only what once served is restarted: a process that cannot start at all fails the stack at once.
    if (!policy || !entry.everReady) fatal = "";
    else if (entry.quickFailures >= policy.maxQuickFailures)
      fatal = `gave up restarting it after ${entry.quickFailures} failures in a row, each within ${policy.quickMs / 1000} s of its start`;
    if (fatal !== undefined) {
      entry.log.end();
      const err = new ChildDiedError(spec.name, code, signal, [...entry.tail], this.logPath(spec.name), fatal || undefined);
      for (const l of this.deathListeners) l(err);
      entry.resolveExited(code);
      return;
    }
    const backoffMs = Math.min(policy!.initialBackoffMs * 2 ** (entry.quickFailures - 1), policy!.maxBackoffMs);
    this.opts.say?.(
      `${spec.name} exited unexpectedly (${describeExit(code, signal)}; log ${this.logPath(spec.name)}); restarting it in ${(backoffMs / 1000).toFixed(1)} s ` +
        `(restart ${entry.restarts + 1}; gives up after ${policy!.maxQuickFailures} quick failures in a row) — training goes on`,
    );
    entry.log.write(`--- ${new Date().toISOString()} ${spec.name} exited (${describeExit(code, signal)}); restarting in ${backoffMs} ms ---\n`);
    entry.restartTimer = setTimeout(() => {
      entry.restartTimer = undefined;
      entry.restarts++;
      this.spawnChild(entry);
      const t0 = Date.now();
      this.whenReady(entry, policy!.readyTimeoutMs).then(
        () => this.opts.say?.(`${spec.name} restarted and ready again (${((Date.now() - t0) / 1000).toFixed(1)} s; ${entry.restarts} restart(s) so far)`),
        (err: Error) => {
          // Not ready in time: a failure like any other (the close handler counts it and decides).
          if (entry.child.exitCode === null && entry.child.signalCode === null) {
            entry.tail.push(`launcher: ${err.message}; killing it`);
            entry.child.kill("SIGKILL");
          }
        },
      );
    }, backoffMs);
  }

  /** Resolves once the entry's current child printed its start line and answers SERVING; rejects if it exits first. */
  private async whenReady(entry: Internal, timeoutMs: number): Promise<void> {
    const child = entry.child;
    const gone = new Promise<never>((_, reject) =>
      child.once("close", (code, signal) => reject(new Error(`${entry.spec.name} exited (${describeExit(code, signal)}) before it was ready`))),
    );
    gone.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${entry.spec.name} was not ready within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      await Promise.race([
        gone,
        late,
        (async () => {
          if (entry.spec.readyLine) await entry.lineSeen;
          if (entry.spec.healthTarget) await waitForServing(entry.spec.healthTarget, { timeoutMs, security: entry.spec.healthSecurity ?? INSECURE });
        })(),
      ]);
      if (child !== entry.child || child.exitCode !== null || child.signalCode !== null) throw new Error(`${entry.spec.name} exited before it was ready`);
      entry.everReady = true;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Starts every spec (one tier: they stop together), then waits until each has printed its start
   * line and answers SERVING. Rejects with a ChildDiedError if one dies first.
   */
  async startAll(
    specs: ProcessSpec[],
    { timeoutMs = 120_000, onReady }: { timeoutMs?: number; onReady?: (name: string, ms: number, process: Running) => void } = {},
  ): Promise<void> {
    const started = Date.now();
    const tier = this.tiers++;
    const entries = specs.map((s) => this.launch(s, tier));
    await Promise.race([
      this.died,
      Promise.all(
        entries.map(async (e) => {
          await this.whenReady(e, timeoutMs).catch(async (err: Error) => {
            // A death is reported through `died` (with the process's last words); this is a timeout.
            if (e.child.exitCode !== null || e.child.signalCode !== null) return this.died;
            throw err;
          });
          onReady?.(e.spec.name, Date.now() - started, e);
        }),
      ),
    ]);
  }

  get(name: string): Running {
    const entry = this.running.find((r) => r.spec.name === name);
    if (!entry) throw new Error(`no process named ${name}`);
    return entry;
  }

  /** Waits for a process to exit on its own (e.g. the orchestrator at the end of training); its exit is not a failure. */
  async waitFor(name: string): Promise<number | null> {
    const entry = this.get(name);
    entry.expectedExit = true;
    return entry.exited;
  }

  /**
   * Stops one process: `signal` (default SIGTERM), then SIGKILL after `graceMs`. Its exit is not a
   * failure. Resolves with its exit code.
   */
  async stop(name: string, { signal = "SIGTERM", graceMs = 5_000 }: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<number | null> {
    const entry = this.get(name) as Internal;
    entry.expectedExit = true;
    if (entry.restartTimer) this.cancelRestart(entry);
    if (alive(entry.child)) {
      entry.child.kill(signal);
      const timer = setTimeout(() => entry.child.kill("SIGKILL"), graceMs);
      await entry.exited;
      clearTimeout(timer);
    }
    return entry.exited;
  }

  /** Stops every live process, latest tier first: SIGTERM, SIGKILL after graceMs; resolves when all have exited. */
  async stopAll(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    for (const r of this.running) if (r.restartTimer) this.cancelRestart(r);
    const tiers = [...new Set(this.running.map((r) => r.tier))].sort((a, b) => b - a);
    for (const tier of tiers) {
      const live = this.running.filter((r) => r.tier === tier && alive(r.child));
      for (const r of live) r.child.kill("SIGTERM");
      const timer = setTimeout(() => live.forEach((r) => r.child.kill("SIGKILL")), graceMs);
      await Promise.all(live.map((r) => r.exited));
      clearTimeout(timer);
    }
  }

  /** A process waiting out its backoff is not started again; it counts as exited. */
  private cancelRestart(entry: Internal): void {
    clearTimeout(entry.restartTimer);
    entry.restartTimer = undefined;
    entry.log.end();
    entry.resolveExited(null);
  }

  /** Sends a signal to one process (e.g. SIGINT to let the orchestrator stop after its step). */
  signal(name: string, signal: NodeJS.Signals): void {
    const entry = this.running.find((r) => r.spec.name === name);
    if (entry && alive(entry.child)) entry.child.kill(signal);
  }

  /** Last resort on exit: SIGKILL whatever is still alive (synchronous, for process.on("exit")). */
  killAllNow(): void {
    for (const r of this.running) if (alive(r.child)) r.child.kill("SIGKILL");
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.running.map((r) => [r.spec.name, r.child.pid]));
  }
}

export interface JobOutcome {
  /** The job's exit code (null: killed by a signal). */
  code: number | null;
  /** The service whose death ended the job, if one did. */
  died?: ChildDiedError;
}

/**
 * Runs `job` (the orchestrator) to its end among the supervised services, then stops them all. When
 * a service dies for good meanwhile, the job goes first: it gets SIGINT (stop at a step boundary)
 * and up to `graceMs` to exit — the services it may still need stay up until then — and only then
 * is anything else stopped. A job that fails on its own may have been first to notice a death, so
 * a non-zero exit waits up to `noticeMs` for the supervisor to report one.
 */
export async function runJob(
  sup: Supervisor,
  job: ProcessSpec,
  { graceMs = 120_000, noticeMs = 1_000, onDeath }: { graceMs?: number; noticeMs?: number; onDeath?: (err: ChildDiedError, jobRunning: boolean) => void } = {},
): Promise<JobOutcome> {
  sup.start(job);
  const first = await Promise.race([sup.waitFor(job.name).then((code) => ({ code })), sup.died.catch((err: ChildDiedError) => ({ died: err }))]);
  let outcome: JobOutcome;
  if ("died" in first) {
    onDeath?.(first.died, true);
    outcome = { died: first.died, code: await sup.stop(job.name, { signal: "SIGINT", graceMs }) };
  } else {
    // 130: stopped by a signal (Ctrl-C), not by a failure.
    const died = first.code !== 0 && first.code !== 130 ? await diedWithin(sup, noticeMs) : undefined;
    if (died) onDeath?.(died, false);
    outcome = { code: first.code, ...(died ? { died } : {}) };
  }
  await sup.stopAll();
  return outcome;
}

function diedWithin(sup: Supervisor, ms: number): Promise<ChildDiedError | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([sup.died.catch((err: ChildDiedError) => err), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * A TCP port free on every interface, for a child to bind a moment later. Ports come from below
 * Linux's ephemeral range (32768–60999), where other processes' `listen(0)` and outgoing
 * connections never land, so nothing else takes the port in between (a kernel-chosen port could
 * be handed to another process before the child binds it: EADDRINUSE under parallel tests); no
 * port is handed out twice by one process. Falls back to a kernel-chosen port.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 64; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * (PORT_RANGE.high - PORT_RANGE.low));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  const port = await kernelPort();
  handedOut.add(port);
  return port;
}

const PORT_RANGE = { low: 20_000, high: 32_000 };
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    // 0.0.0.0: fails if any address holds the port
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "0.0.0.0", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
