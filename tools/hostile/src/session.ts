// One hostile session, shared by the test and the long run: start the stack, take the run state,
// send calls, then check health, processes and the run state again.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { catalogue, type CaseFactory } from "./cases.ts";
import { RawClients, type HostileCall } from "./probe.ts";
import { runCalls, Tally } from "./runner.ts";
import { startHostileStack, type HostileStack } from "./stack.ts";
import { snapshot, stateChanges, unhealthy, type RunStateSnapshot } from "./state.ts";
import { HostileValues } from "./values.ts";

export interface SessionOptions {
  seed: number;
  concurrency: number;
  log?: (line: string) => void;
  /** Keep the temp folder (logs, run directory) afterwards. */
  keep?: boolean;
}

export class HostileSession {
  readonly tally = new Tally();
  readonly cases: CaseFactory[] = catalogue();
  readonly values: HostileValues;
  /** Health failures seen during or after the run. */
  readonly healthProblems: string[] = [];
  private clients!: RawClients;
  private before!: RunStateSnapshot;

  private constructor(
    readonly stack: HostileStack,
    private readonly opts: SessionOptions,
  ) {
    this.values = new HostileValues(opts.seed);
  }

  static async start(opts: SessionOptions): Promise<HostileSession> {
    const dir = mkdtempSync(join(tmpdir(), "grpomesh-hostile-"));
    let stack: HostileStack;
    try {
      stack = await startHostileStack({ dir, seed: opts.seed, log: opts.log });
    } catch (err) {
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const s = new HostileSession(stack, opts);
    s.clients = new RawClients(stack.targets, stack.security);
    s.before = await snapshot(stack.targets, stack.security, stack.watched, dir);
    return s;
  }

  run(next: () => HostileCall | undefined): Promise<void> {
    return runCalls(this.clients, next, this.tally, this.opts.concurrency);
  }

  /** Records services that are down or not SERVING now. */
  async checkHealth(when: string): Promise<string[]> {
    const problems = [...(await unhealthy(this.stack.targets, this.stack.security)), ...this.stack.dead().map((n) => `${n} exited:\n${this.stack.logTail(n)}`)];
    for (const p of problems) this.healthProblems.push(`${when}: ${p}`);
    return problems;
  }

  /** What changed in the run state since the session started. */
  async stateChanges(): Promise<string[]> {
    const after = await snapshot(this.stack.targets, this.stack.security, this.stack.watched, this.stack.dir);
    return stateChanges(this.before, after);
  }

  async stop(): Promise<void> {
    this.clients.close();
    await this.stack.stop();
    if (!this.opts.keep) rmSync(this.stack.dir, { recursive: true, force: true });
  }
}
