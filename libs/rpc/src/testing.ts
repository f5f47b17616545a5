// Service mains as real processes, for tests (`@grpomesh/rpc/testing`): run a script under tsx to
// its end, or until its start line, ask its health, and stop it with SIGTERM.
import { spawn } from "node:child_process";
import { checkHealth } from "./client.ts";

export interface ProcessRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** SIGKILL after this long (default 60 s). */
  timeoutMs?: number;
  /** Sees each stdout line; `kill` sends the process a signal. */
  onLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void;
}

/** Runs `node --import tsx <script> …args` to its end. */
export function runTsx(script: string, args: readonly string[], opts: RunOptions = {}): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.stdout.on("data", (d: Buffer) => {
      const before = stdout.length;
      stdout += d.toString();
      for (const line of stdout.slice(before).split("\n")) if (line) opts.onLine?.(line, (s) => child.kill(s));
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ServingRun extends ProcessRun {
  /** What the health service said for `healthService` once the start line was out ("" if it never was). */
  health: string;
  /** Every "<name>: serving …" line printed. */
  startLines: string[];
}

/**
 * Runs a service main until it prints `<name>: serving address=…`, checks health there, then sends
 * SIGTERM and waits for the process to end.
 */
export async function runUntilServing(
  script: string,
  args: readonly string[],
  opts: { name: string; healthService?: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<ServingRun> {
  let health = "";
  let checked: Promise<void> = Promise.resolve();
  const prefix = `${opts.name}: serving `;
  const run = await runTsx(script, args, {
    env: opts.env,
    timeoutMs: opts.timeoutMs,
    onLine(line, kill) {
      const address = line.startsWith(prefix) ? /address=(\S+)/.exec(line)?.[1] : undefined;
      if (!address) return;
      checked = checkHealth(address, opts.healthService ?? "").then(
        (s) => void ((health = s), kill("SIGTERM")),
        (e: Error) => void ((health = e.message), kill("SIGTERM")),
      );
    },
  });
  await checked;
  return { ...run, health, startLines: run.stdout.split("\n").filter((l) => l.startsWith(prefix)) };
}
