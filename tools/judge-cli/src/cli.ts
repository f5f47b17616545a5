// `npm run judge -- <command>`: operate a judge fleet and a training run from the shell.
//   status --judges=SPEC                       what every replica serves
//   swap <model.onnx> [--version=V] --judges=SPEC          load on every replica now (rolled back if one refuses)
//   swap <model.onnx> [--version=V] --orchestrator=ADDR    roll it between two training steps
//   run status|pause|resume|checkpoint --orchestrator=ADDR the run's state and its admin RPCs
// SPEC: "host:port,host:port", "@file" or "dns:///service:port" (as the orchestrator's --judges).
// Credentials: --tls-dir and --admin-token-file, else those of a local run (--run-dir, default the
// newest run under runs/ that `npm start` left a stack.json in), whose addresses are defaults too.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { JudgeService, OrchestratorService, RunState } from "@grpomesh/proto";
import { createClient, loadSecurity, type Security } from "@grpomesh/rpc";
import { REPO_ROOT } from "@grpomesh/data";
import { JudgeFleet, resolveJudgeTargets } from "@grpomesh/orchestrator";

export const USAGE = `usage: npm run judge -- <command> [options]
  status [--judges=SPEC]
  swap <model.onnx> [--version=V] (--judges=SPEC | --orchestrator=HOST:PORT)
  run status|pause|resume|checkpoint [--orchestrator=HOST:PORT]
SPEC is "host:port,host:port", "@file" or "dns:///service:port".
Credentials: --tls-dir=DIR (tls.crt, tls.key, ca.crt) and --admin-token-file=FILE (or --tls_dir, --admin_token_file)
(env GRPOMESH_TLS_DIR, GRPOMESH_ADMIN_TOKEN_FILE); without them, those of a local run:
--run-dir=DIR, default the newest runs/* (or $GRPOMESH_RUNS_DIR/*) with a stack.json (its addresses are the defaults too).`;

const FLAGS = ["judges", "orchestrator", "version", "deadline-ms", "tls-dir", "admin-token-file", "run-dir"];

/** What `npm start` writes into its run directory: addresses and where the credentials are. */
export interface StackFile {
  services?: Record<string, { address?: string }>;
  orchestrator?: string;
  tls_dir?: string;
  admin_token_file?: string;
}

interface Target {
  security: Security;
  judges?: string;
  orchestrator?: string;
  /** One line saying where the credentials and addresses came from. */
  source: string;
}

function newestStack(runsDir: string): string | undefined {
  if (!existsSync(runsDir)) return undefined;
  const runs = readdirSync(runsDir)
    .map((name) => join(runsDir, name, "stack.json"))
    .filter((path) => existsSync(path))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return runs[0];
}

function readStack(path: string): StackFile {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as StackFile;
  } catch (err) {
    throw new Error(`${path} is not a readable stack file: ${(err as Error).message}`);
  }
}

/** Credentials and default addresses: flags and environment first, then a local run's stack.json. */
export function resolveTarget(flags: Map<string, string>, env: Record<string, string | undefined> = process.env): Target {
  const runsDir = env.GRPOMESH_RUNS_DIR || join(REPO_ROOT, "runs");
  const tlsDir = flags.get("tls-dir") ?? env.GRPOMESH_TLS_DIR;
  const tokenFile = flags.get("admin-token-file") ?? env.GRPOMESH_ADMIN_TOKEN_FILE;
  const runDir = flags.get("run-dir");
  // A local run supplies what the flags leave out: addresses, and credentials unless given.
  const needsStack = runDir || !(tlsDir || tokenFile) || !(flags.has("judges") || flags.has("orchestrator"));
  const stackPath = runDir ? join(resolve(runDir), "stack.json") : needsStack ? newestStack(runsDir) : undefined;
  if (runDir && !existsSync(stackPath!))
    throw new Error(`--run-dir=${runDir} has no stack.json; pass a run directory that npm start made, or --tls-dir and --admin-token-file`);
  const stack = stackPath ? readStack(stackPath) : {};
  const judgeAddresses = Object.entries(stack.services ?? {})
    .filter(([name, s]) => name.startsWith("judge") && s.address)
    .map(([, s]) => s.address!);
  const security = loadSecurity({ tlsDir: tlsDir ?? stack.tls_dir, adminTokenFile: tokenFile ?? stack.admin_token_file });
  const how = `${security.tls ? (security.tls.ca ? "mTLS" : "TLS") : "plaintext"}${security.adminToken ? " + admin token" : ""}`;
  return {
    security,
    judges: flags.get("judges") ?? (judgeAddresses.length ? judgeAddresses.join(",") : undefined),
    orchestrator: flags.get("orchestrator") ?? stack.orchestrator,
    source: [
      `${how}${tlsDir || tokenFile ? " from the given files" : stackPath ? ` from the run in ${join(stackPath, "..")}` : ""}`,
      ...(stackPath && (tlsDir || tokenFile) ? [`addresses from the run in ${join(stackPath, "..")} unless given`] : []),
    ].join("; "),
  };
}

export interface CliIo {
  out(line: string): void;
}

function parse(argv: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z_-]+)=(.*)$/s.exec(arg);
    if (m) flags.set(m[1]!.replace(/_/g, "-"), m[2]!);
    else if (arg.startsWith("--")) throw new Error(`option ${arg} needs a value (--key=value)\n${USAGE}`);
    else positional.push(arg);
  }
  for (const key of flags.keys()) if (!FLAGS.includes(key)) throw new Error(`unknown option --${key}\n${USAGE}`);
  return { positional, flags };
}

async function status(spec: string, security: Security, io: CliIo): Promise<number> {
  const targets = await resolveJudgeTargets(spec);
  let failed = 0;
  for (const target of targets) {
    const client = createClient(JudgeService, target, { deadlineMs: 5_000, security });
    try {
      const info = await client.info({});
      io.out(`${target}  ${info.modelName} ${info.modelVersion}  (${info.executionProvider}, ${info.modelPath})`);
    } catch (err) {
      failed++;
      io.out(`${target}  unreachable: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      client.close();
    }
  }
  return failed ? 1 : 0;
}

async function swapDirect(model: string, version: string, spec: string, security: Security, io: CliIo): Promise<number> {
  const fleet = await JudgeFleet.fromSpec(spec, { log: (l) => io.out(`  ${l}`), security });
  try {
    io.out(`swapping ${fleet.replicas.length} replica(s) to ${model}${version ? ` (version ${version})` : ""}:`);
    const t0 = performance.now();
    const results = await fleet.swapModel(model, version);
    io.out(`done in ${((performance.now() - t0) / 1000).toFixed(1)}s; every replica now serves:`);
    for (const r of results) io.out(`  ${r.address}  ${r.modelVersion}${r.ok ? "" : `  (kept: ${r.error})`}`);
    return results.every((r) => r.ok) && results.length === fleet.replicas.length ? 0 : 1;
  } finally {
    fleet.close();
  }
}

async function swapViaOrchestrator(model: string, version: string, address: string, security: Security, io: CliIo): Promise<number> {
  const client = createClient(OrchestratorService, address, { deadlineMs: 600_000, security });
  try {
    const before = await client.status({});
    io.out(
      `orchestrator at ${address}: step ${before.step}/${before.maxSteps}, judge ${before.judgeVersion || "(none yet)"}; waiting for the next step boundary…`,
    );
    const t0 = performance.now();
    const res = await client.swapJudge({ path: model, version });
    io.out(`swapped in ${((performance.now() - t0) / 1000).toFixed(1)}s; effective from step ${res.effectiveStep}; every replica now serves:`);
    for (const r of res.replicas) io.out(`  ${r.address}  ${r.modelVersion}  (load ${r.loadMs.toFixed(0)} ms)`);
    return 0;
  } finally {
    client.close();
  }
}

async function runCommand(action: string, address: string, security: Security, io: CliIo): Promise<number> {
  const client = createClient(OrchestratorService, address, { deadlineMs: 600_000, security });
  try {
    switch (action) {
      case "status": {
        const s = await client.status({});
        const metrics = Object.entries(s.lastMetrics).filter(([k]) => ["mean_reward", "kl_per_token", "loss", "eval_mean_reward"].includes(k));
        io.out(
          `${RunState[s.state]} step ${s.step}/${s.maxSteps}, policy version ${s.policyVersion}, judge ${s.judgeVersion || "(none yet)"}, run ${s.runDir}`,
        );
        if (metrics.length) io.out(`  ${metrics.map(([k, v]) => `${k}=${v.toFixed(4)}`).join(" ")}`);
        if (s.error) io.out(`  error: ${s.error}`);
        return 0;
      }
      case "pause":
        io.out(`paused after step ${(await client.pause({})).step}`);
        return 0;
      case "resume":
        io.out(`resumed at step ${(await client.resume({})).step}`);
        return 0;
      case "checkpoint": {
        const r = await client.checkpoint({});
        io.out(`checkpoint of step ${r.step}: ${r.path}`);
        return 0;
      }
      default:
        throw new Error(`unknown run action "${action}"; expected status, pause, resume or checkpoint\n${USAGE}`);
    }
  } finally {
    client.close();
  }
}

export async function runCli(
  argv: string[],
  io: CliIo = { out: (l) => console.log(l) },
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "help") {
    io.out(USAGE);
    return command ? 0 : 2;
  }
  if (!["status", "swap", "run"].includes(command)) throw new Error(`unknown command "${command}"\n${USAGE}`);
  const { positional, flags } = parse(rest);
  const target = resolveTarget(flags, env);
  const { judges, orchestrator, security } = target;
  io.out(`(${target.source})`);
  if (command === "status") {
    if (!judges) throw new Error(`status needs --judges=SPEC (no local run to take the addresses from)\n${USAGE}`);
    return status(judges, security, io);
  }
  if (command === "run") {
    if (positional.length !== 1) throw new Error(`run takes one action: status, pause, resume or checkpoint\n${USAGE}`);
    if (!orchestrator) throw new Error(`run needs --orchestrator=HOST:PORT (no local run to take the address from)\n${USAGE}`);
    return runCommand(positional[0]!, orchestrator, security, io);
  }
  if (command === "swap") {
    if (positional.length !== 1) throw new Error(`swap takes one model path; got ${positional.length}\n${USAGE}`);
    const viaJudges = flags.has("judges") || (!flags.has("orchestrator") && !orchestrator);
    if (flags.has("judges") && flags.has("orchestrator")) throw new Error(`swap needs one of --judges=SPEC or --orchestrator=HOST:PORT, not both\n${USAGE}`);
    if (viaJudges ? !judges : !orchestrator) throw new Error(`swap needs --judges=SPEC or --orchestrator=HOST:PORT\n${USAGE}`);
    // Otherwise passed as given: the judges resolve it (relative paths against their model
    // repository), and they may run on other machines than this command. A relative path that
    // exists here is a local stack's file: sent absolute, not read against the repository.
    const given = positional[0]!;
    const model = !isAbsolute(given) && existsSync(given) ? resolve(given) : given;
    if (model !== given) io.out(`(sending ${given} as ${model})`);
    const version = flags.get("version") ?? "";
    return viaJudges ? swapDirect(model, version, judges!, security, io) : swapViaOrchestrator(model, version, orchestrator!, security, io);
  }
  throw new Error(`unknown command "${command}"\n${USAGE}`);
}
