// Real judge processes for the judge and fleet benches: spawn services/judge/src/main.ts, read its
// start line, scrape its /metrics, and pick the model (the trained judge, a given file, or a
// random-weight scorer of the default judge size exported on the fly).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSecurity, type Security } from "@grpomesh/rpc";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const MAKE_RANDOM_JUDGE = join(ROOT, "services/judge/src/make-random-judge.ts");
const DEFAULT_MODEL = join(ROOT, "models/judge/model.onnx");

export interface JudgeProcess {
  address: string;
  metricsPort: number;
  startLine: string;
  /** What a client needs to call it, LoadModel included: the bench's admin token (plaintext on loopback). */
  security: Security;
  stop(): Promise<void>;
}

let benchToken: { file: string; security: Security } | undefined;

/** One admin token for every judge this bench process starts (LoadModel needs it), removed at exit. */
function benchAdminToken(): { file: string; security: Security } {
  if (!benchToken) {
    const dir = mkdtempSync(join(tmpdir(), "grpomesh-bench-token-"));
    const file = join(dir, "admin-token");
    writeFileSync(file, randomBytes(24).toString("base64url") + "\n", { mode: 0o600 });
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    benchToken = { file, security: loadSecurity({ adminTokenFile: file }) };
  }
  return benchToken;
}

/**
 * Starts the judge on a free port (gRPC and /metrics) and resolves once it prints its start line.
 * Plaintext with an admin token: these benches measure the judge, and their numbers stay
 * comparable across versions (`npm run bench -- step --tls=both` measures what TLS costs).
 */
export async function startJudge(args: string[]): Promise<JudgeProcess> {
  const { Supervisor, tsxProcess } = await import("@grpomesh/launcher"); // not before it is needed: --help stays quick
  const token = benchAdminToken();
  const logDir = mkdtempSync(join(tmpdir(), "grpomesh-bench-judge-"));
  const supervisor = new Supervisor(logDir);
  const stop = async () => {
    await supervisor.stopAll();
    rmSync(logDir, { recursive: true, force: true });
  };
  try {
    const flags = ["--address=127.0.0.1:0", "--metrics_port=0", `--admin_token_file=${token.file}`, ...args];
    // In the bench's process group: a Ctrl-C stops the judges too.
    await supervisor.startAll([tsxProcess("judge", "services/judge/src/main.ts", flags, { readyLine: /^judge: serving /, sameGroup: true })]);
    const startLine = supervisor.get("judge").startLine!;
    const address = /address=(\S+)/.exec(startLine)?.[1];
    const metricsPort = Number(/metrics=:(\d+)/.exec(startLine)?.[1]);
    if (!address || !metricsPort) throw new Error(`cannot read address and metrics port from the judge's start line: ${startLine}`);
    return { address, metricsPort, startLine, security: token.security, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Sum of `<name>_sum` and `<name>_count` over every label set in the judge's /metrics. */
export async function histogramTotals(metricsPort: number, name: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const total = (suffix: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith(`${name}_${suffix} `) || l.startsWith(`${name}_${suffix}{`))
      .reduce((acc, l) => acc + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  return { sum: total("sum"), count: total("count") };
}

function runTsx(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${args.join(" ")} exited with ${code}: ${out}`))));
  });
}

export interface BenchModel {
  path: string;
  /** What the model is, for the report. */
  what: string;
  cleanup(): void;
}

/** `flag` when given, else the project's trained judge, else a random-weight scorer of the default judge size. */
export async function benchModel(flag: string, seed: number): Promise<BenchModel> {
  if (flag) return { path: flag, what: `${flag} (--model)`, cleanup: () => {} };
  if (existsSync(DEFAULT_MODEL)) return { path: DEFAULT_MODEL, what: "models/judge/model.onnx (the project's trained judge)", cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), "bench-judge-"));
  const path = join(dir, "random-judge.onnx");
  try {
    const made = await runTsx([MAKE_RANDOM_JUDGE, path, "--version=random-default", `--seed=${seed}`]);
    const what = `random-weight scorer of the default judge size, exported on the fly (${made.replace(/^wrote \S+ \((.*)\)$/s, "$1")})`;
    return { path, what, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The judges setting ("--a=1 --b=2;--c=3", checked by the table) as one argument list per judge configuration. */
export const judgeConfigurations = (raw: string): string[][] => raw.split(";").map((j) => j.trim().split(/\s+/).filter(Boolean));

/** "parallel 2×1" from a start line: scheduler, sessions × intra-op threads per session. */
export function judgeLabel(startLine: string): string {
  const field = (k: string) => new RegExp(`\\b${k}=(\\S+)`).exec(startLine)?.[1]?.replace("(auto)", "") ?? "?";
  return `${field("scheduler")} ${field("sessions")}×${field("threads")}`;
}
