// A process the chaos run kills and starts again under the same name and command line (so the
// same address), on the launcher's supervisor: each run's orchestrator, and the policy once it has
// been killed. Its log is appended across starts, with a line marking each.
import { appendFileSync, readFileSync, statSync } from "node:fs";
import { describeExit as describeCodeOrSignal, type ProcessSpec, type Supervisor } from "@grpomesh/launcher";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit(e: Exit): string {
  return describeCodeOrSignal(e.code, e.signal);
}

export class Restartable {
  private starts = 0;
  /** Byte offset of the log where the current start's output begins. */
  private logOffset = 0;

  constructor(
    private readonly supervisor: Supervisor,
    readonly spec: ProcessSpec,
  ) {}

  get logPath(): string {
    return this.supervisor.logPath(this.spec.name);
  }

  get alive(): boolean {
    return this.lastExit === undefined;
  }

  /** Set once the current process has exited. */
  get lastExit(): Exit | undefined {
    const { exitCode, signalCode } = this.supervisor.get(this.spec.name).child;
    return exitCode === null && signalCode === null ? undefined : { code: exitCode, signal: signalCode };
  }

  /**
   * Starts it (again), with `extraFlags` for this start only (e.g. --resume). With `readyTimeoutMs`,
   * resolves once it is ready (start line and health check) and its exit counts as a death;
   * without, its exit on its own is expected (a job).
   */
  async start(extraFlags: string[] = [], readyTimeoutMs?: number): Promise<void> {
    appendFileSync(this.logPath, `\n=== chaos: start #${++this.starts} of ${this.spec.name} at ${new Date().toISOString()} ===\n`);
    this.logOffset = statSync(this.logPath).size;
    const spec = { ...this.spec, args: [...this.spec.args, ...extraFlags] };
    if (readyTimeoutMs === undefined) this.supervisor.start(spec).expectedExit = true;
    else await this.supervisor.startAll([spec], { timeoutMs: readyTimeoutMs });
  }

  /** Resolves when the current process has exited. */
  async exited(): Promise<Exit> {
    await this.supervisor.get(this.spec.name).exited;
    return this.lastExit!;
  }

  /** `signal` (default SIGTERM), then SIGKILL after graceMs; resolves when it has exited (at once if it is not running). */
  async stop(opts: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<Exit> {
    await this.supervisor.stop(this.spec.name, opts);
    return this.lastExit!;
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
}
