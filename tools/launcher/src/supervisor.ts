// Starts the stack's processes, waits for their gRPC health checks, and stops every one of them
// when the job ends, on Ctrl-C, or as soon as any of them dies (naming it and showing its last words).
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { waitForServing } from "@grpomesh/rpc";

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** gRPC address to health-check before the process counts as started. */
  healthTarget?: string;
  /** Show this process's output on the console (else only in its log file). */
  foreground?: boolean;
}

interface Running {
  spec: ProcessSpec;
  child: ChildProcess;
  log: WriteStream;
  tail: string[];
  exited: Promise<number | null>;
  expectedExit: boolean;
}

export class ChildDiedError extends Error {
  constructor(
    readonly processName: string,
    readonly code: number | null,
    readonly signal: string | null,
    readonly tail: string[],
    readonly logPath: string,
  ) {
    super(
      `${processName} exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}); last output:\n` +
        (tail.length ? tail.map((l) => `  | ${l}`).join("\n") : "  | (nothing)") +
        `\nfull log: ${logPath}`,
    );
    this.name = "ChildDiedError";
  }
}

const TAIL_LINES = 15;

export class Supervisor {
  private running: Running[] = [];
  private stopping = false;
  private deathListeners: Array<(err: ChildDiedError) => void> = [];
  /** Rejects when any supervised process dies before stopAll(). */
  readonly died: Promise<never>;

  constructor(private readonly logDir: string) {
    mkdirSync(logDir, { recursive: true });
    this.died = new Promise<never>((_, reject) => this.deathListeners.push(reject));
    this.died.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  logPath(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  start(spec: ProcessSpec): Running {
    const log = createWriteStream(this.logPath(spec.name), { flags: "a" });
    // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the
    // stack in order (orchestrator first, so it can finish its step) instead of all at once.
    const child = spawn(spec.command, spec.args, {
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const entry: Running = { spec, child, log, tail: [], exited: Promise.resolve(null), expectedExit: false };
    const onData = (stream: NodeJS.WritableStream | null) => (chunk: Buffer) => {
      log.write(chunk);
      if (stream) stream.write(chunk);
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim()) entry.tail.push(line.replace(/\r/g, "").slice(0, 400));
      }
      if (entry.tail.length > TAIL_LINES) entry.tail.splice(0, entry.tail.length - TAIL_LINES);
    };
    child.stdout!.on("data", onData(spec.foreground ? process.stdout : null));
    child.stderr!.on("data", onData(spec.foreground ? process.stderr : null));
    entry.exited = new Promise((resolve) => {
      child.once("error", (err) => {
        entry.tail.push(`failed to start: ${err.message}`);
      });
      child.once("close", (code, signal) => {
        log.end();
        if (!this.stopping && !entry.expectedExit) {
          const err = new ChildDiedError(spec.name, code, signal, entry.tail, this.logPath(spec.name));
          for (const l of this.deathListeners) l(err);
        }
        resolve(code);
      });
    });
    this.running.push(entry);
    return entry;
  }

  /** Starts every spec, then waits until each with a healthTarget answers SERVING. */
  async startAll(specs: ProcessSpec[], { timeoutMs = 120_000, onReady }: { timeoutMs?: number; onReady?: (name: string, ms: number) => void } = {}): Promise<void> {
    const started = Date.now();
    const entries = specs.map((s) => this.start(s));
    await Promise.race([
      this.died,
      Promise.all(
        entries.map(async (e) => {
          if (e.spec.healthTarget) await waitForServing(e.spec.healthTarget, { timeoutMs });
          onReady?.(e.spec.name, Date.now() - started);
        }),
      ),
    ]);
  }

  /** Waits for a process to exit on its own (e.g. the orchestrator at the end of training). */
  async waitFor(name: string): Promise<number | null> {
    const entry = this.running.find((r) => r.spec.name === name);
    if (!entry) throw new Error(`no process named ${name}`);
    entry.expectedExit = true;
    const code = await Promise.race([entry.exited, this.died]);
    return code;
  }

  /** SIGTERM to every live process, SIGKILL after graceMs; resolves when all have exited. */
  async stopAll(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    const live = this.running.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    for (const r of live) r.child.kill("SIGTERM");
    const timer = setTimeout(() => live.forEach((r) => r.child.kill("SIGKILL")), graceMs);
    await Promise.all(live.map((r) => r.exited));
    clearTimeout(timer);
  }

  /** Sends a signal to one process (e.g. SIGINT to let the orchestrator stop after its step). */
  signal(name: string, signal: NodeJS.Signals): void {
    this.running.find((r) => r.spec.name === name)?.child.kill(signal);
  }

  /** Last resort on exit: SIGKILL whatever is still alive (synchronous, for process.on("exit")). */
  killAllNow(): void {
    for (const r of this.running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.running.map((r) => [r.spec.name, r.child.pid]));
  }
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
    // 0.0.0.0: what the metrics endpoints bind; it fails if any address holds the port
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
