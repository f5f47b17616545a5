// A process the chaos run starts itself, kills, and starts again with the same command line (so
// the same address): the orchestrator, and the policy once it has been brought back. Output goes
// to one log file per process, appended across starts with a line marking each.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, openSync, readFileSync } from "node:fs";
import { checkHealth, type Security } from "@grpomesh/rpc";
import { ROOT, describeExit as describeCodeOrSignal, tsxProcess } from "@grpomesh/launcher";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit(e: Exit): string {
  return describeCodeOrSignal(e.code, e.signal);
}

export interface ManagedSpec {
  name: string;
  command: string;
  args: string[];
  /** gRPC address to health-check after a start (none for the orchestrator). */
  address?: string;
}

/** A TypeScript entry point of this repository, run with tsx. */
export function tsxSpec(name: string, script: string, flags: string[], address?: string): ManagedSpec {
  const { command, args } = tsxProcess(name, script, flags);
  return { name, command, args, ...(address ? { address } : {}) };
}

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exitPromise: Promise<Exit> = Promise.resolve({ code: null, signal: null });
  starts = 0;
  /** Set once the current child has exited. */
  lastExit: Exit | undefined;
  /** Byte offset of the log where the current start's output begins. */
  logOffset = 0;

  constructor(
    readonly spec: ManagedSpec,
    readonly logPath: string,
    private readonly security: Security,
  ) {}

  get alive(): boolean {
    return this.child !== undefined && this.lastExit === undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the process (again); `extraFlags` are added for this start only (e.g. --resume). */
  start(extraFlags: string[] = []): void {
    if (this.alive) throw new Error(`${this.spec.name} is already running (pid ${this.child!.pid}); kill it before starting it again`);
    this.starts++;
    appendFileSync(this.logPath, `\n=== chaos: start #${this.starts} of ${this.spec.name} at ${new Date().toISOString()} ===\n`);
    this.logOffset = readFileSync(this.logPath).length;
    const fd = openSync(this.logPath, "a");
    try {
      // Own process group, so a terminal's Ctrl-C reaches only the chaos tool, which then stops everything.
      this.child = spawn(this.spec.command, [...this.spec.args, ...extraFlags], {
        cwd: ROOT,
        stdio: ["ignore", fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    this.lastExit = undefined;
    const child = this.child;
    this.exitPromise = new Promise<Exit>((resolve) => {
      child.once("error", (err) => appendFileSync(this.logPath, `chaos: failed to start: ${err.message}\n`));
      child.once("exit", (code, signal) => {
        this.lastExit = { code, signal };
        resolve(this.lastExit);
      });
    });
  }

  /** Resolves when the current child has exited. */
  exited(): Promise<Exit> {
    return this.exitPromise;
  }

  /** Starts and waits until the gRPC health check answers SERVING; rejects if the process dies first. */
  async startServing(timeoutMs: number): Promise<void> {
    this.start();
    if (!this.spec.address) return;
    const until = Date.now() + timeoutMs;
    let last = "no answer";
    // Polled here rather than with waitForServing, so the checks stop as soon as the process dies.
    while (Date.now() < until) {
      if (!this.alive)
        throw new Error(`${this.spec.name} exited (${describeExit(this.lastExit!)}) before serving; last output:\n${this.tail(15)}\nfull log: ${this.logPath}`);
      try {
        last = await checkHealth(this.spec.address, "", 2_000, this.security);
        if (last === "SERVING") return;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `${this.spec.name} at ${this.spec.address} did not answer SERVING within ${timeoutMs / 1000} s (last: ${last.slice(0, 300)}); see ${this.logPath}`,
    );
  }

  /** Sends `signal` and resolves when the process has exited (at once if it is not running). */
  async kill(signal: NodeJS.Signals): Promise<Exit> {
    if (!this.alive) return this.lastExit ?? { code: null, signal: null };
    this.child!.kill(signal);
    return this.exited();
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 5_000): Promise<Exit> {
    if (!this.alive) return this.lastExit ?? { code: null, signal: null };
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    try {
      return await this.kill("SIGTERM");
    } finally {
      clearTimeout(timer);
    }
  }

  /** The current start's output so far. */
  output(): string {
    return readFileSync(this.logPath).subarray(this.logOffset).toString("utf8");
  }

  /** The last lines of the current start's output, indented, for error messages. */
  tail(lines: number): string {
    const all = this.output()
      .split("\n")
      .filter((l) => l.trim());
    return (
      all
        .slice(-lines)
        .map((l) => `  | ${l.slice(0, 400)}`)
        .join("\n") || "  | (nothing)"
    );
  }

  /** SIGKILL at once, synchronously (for process.on("exit")). */
  killNow(): void {
    if (this.alive) this.child!.kill("SIGKILL");
  }
}
