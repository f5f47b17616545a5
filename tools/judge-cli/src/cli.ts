// `npm run judge -- <command>`: operate a judge fleet and a training run from the shell (USAGE).
// Credentials and addresses not given are those of a local run: the newest under runs/ that
// `npm start` left a stack.json in.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { ConfigError, parseSettings, usage } from "@grpomesh/config";
import { JudgeService, OrchestratorService, RunState } from "@grpomesh/proto";
import { createClient, loadSecurity, type Security } from "@grpomesh/rpc";
import { REPO_ROOT } from "@grpomesh/data";
import { JudgeFleet, parseWeightedSpecs, resolveJudgeTargets, type WeightedSpec } from "@grpomesh/orchestrator";
import { inspectJudgeModel } from "@grpomesh/onnx-export";
import { quantizeModel } from "@grpomesh/onnx-export/quantize";
import * as ort from "onnxruntime-node";
import { installJudgeModel } from "./install.ts";
import { JUDGE_CLI_ENV_PREFIX, JUDGE_CLI_SETTINGS, type JudgeCliConfig } from "./settings.ts";

export const USAGE = usage(
  JUDGE_CLI_SETTINGS,
  "npm run judge -- <command>",
  JUDGE_CLI_ENV_PREFIX,
  `commands:
  status                               what every judge replica serves (each named judge's, with several)
  swap <model.onnx> [--judge=NAME]     with --judges: load on every replica now (rolled back if one refuses);
                                       with --orchestrator: roll it in between two training steps;
                                       --judge names the judge fleet to swap when there are several
  run status|pause|resume|checkpoint   the run's state and its admin RPCs (--orchestrator)
  install <SOURCE> --repository=DIR --name=NAME --version=N [--sha256=HEX]
                                       puts a judge model (a file, or an http(s) URL to fetch) into a model repository as
                                       NAME/N/model.onnx: checked to load and score as a judge first, written whole or not
                                       at all, never over other bytes (the same bytes again: done); prints NAME/N/model.onnx,
                                       the path swap takes
  quantize <in.onnx> <out.onnx>        writes an int8 version of a judge (the same weights, per-column int8 linear
                                       layers, dynamic activation quantization, GELU as one FastGelu; --keep=NAMES stays
                                       fp32); a new file, loaded and swapped in like any judge`,
);

/** What `npm start` writes into its run directory: addresses and where the credentials are. */
export interface StackFile {
  services?: Record<string, { address?: string }>;
  /** The orchestrator's --judges value: every judge fleet, named and weighted. */
  judges?: string;
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
export function resolveTarget(o: JudgeCliConfig): Target {
  // A local run supplies what the flags leave out: addresses, and credentials unless given.
  const needsStack = o.run_dir || !(o.tls_dir || o.admin_token_file) || !(o.judges || o.orchestrator);
  const stackPath = o.run_dir ? join(resolve(o.run_dir), "stack.json") : needsStack ? newestStack(o.runs_dir || join(REPO_ROOT, "runs")) : undefined;
  if (o.run_dir && !existsSync(stackPath!))
    throw new ConfigError(`run_dir ${o.run_dir} has no stack.json; pass a run directory that npm start made, or --tls_dir and --admin_token_file`);
  const stack = stackPath ? readStack(stackPath) : {};
  const judgeAddresses = Object.entries(stack.services ?? {})
    .filter(([name, s]) => name.startsWith("judge") && s.address)
    .map(([, s]) => s.address!);
  const security = loadSecurity({ tlsDir: o.tls_dir || stack.tls_dir, adminTokenFile: o.admin_token_file || stack.admin_token_file });
  const how = `${security.tls ? (security.tls.ca ? "mTLS" : "TLS") : "plaintext"}${security.adminToken ? " + admin token" : ""}`;
  return {
    security,
    judges: o.judges || stack.judges || (judgeAddresses.length ? judgeAddresses.join(",") : undefined),
    orchestrator: o.orchestrator || stack.orchestrator,
    source: [
      `${how}${o.tls_dir || o.admin_token_file ? " from the given files" : stackPath ? ` from the run in ${join(stackPath, "..")}` : ""}`,
      ...(stackPath && (o.tls_dir || o.admin_token_file) ? [`addresses from the run in ${join(stackPath, "..")} unless given`] : []),
    ].join("; "),
  };
}

export interface CliIo {
  out(line: string): void;
}

/** The judge fleets of a --judges value (the orchestrator's syntax); a ConfigError when it is not one. */
function fleetsOf(spec: string): WeightedSpec[] {
  try {
    return parseWeightedSpecs(spec);
  } catch (err) {
    throw new ConfigError(`judges ${JSON.stringify(spec)}: ${(err as Error).message}`);
  }
}

/** The fleet `name` names in the judges list, or its only one; a ConfigError naming the fleets otherwise. */
function pickFleet(fleets: WeightedSpec[], name: string): WeightedSpec {
  const known = fleets.map((f) => f.name).join(", ");
  if (!name) {
    if (fleets.length === 1) return fleets[0]!;
    throw new ConfigError(`there are ${fleets.length} judges (${known}); name the one to swap with --judge=NAME`);
  }
  const fleet = fleets.find((f) => f.name === name);
  if (!fleet) throw new ConfigError(`no judge named "${name}"; the judges are ${known}`);
  return fleet;
}

async function status(spec: string, security: Security, io: CliIo): Promise<number> {
  const fleets = fleetsOf(spec);
  let failed = 0;
  for (const fleet of fleets) {
    if (fleets.length > 1) io.out(`judge ${fleet.name} (weight ${fleet.weight}):`);
    failed += await fleetStatus(fleet.spec, security, io, fleets.length > 1 ? "  " : "");
  }
  return failed ? 1 : 0;
}

async function fleetStatus(spec: string, security: Security, io: CliIo, indent: string): Promise<number> {
  const targets = await resolveJudgeTargets(spec);
  let failed = 0;
  for (const target of targets) {
    const client = createClient(JudgeService, target, { deadlineMs: 5_000, security });
    try {
      const info = await client.info({});
      io.out(`${indent}${target}  ${info.modelName} ${info.modelVersion}  (${info.executionProvider}, ${info.modelPath})`);
    } catch (err) {
      failed++;
      io.out(`${indent}${target}  unreachable: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      client.close();
    }
  }
  return failed;
}

async function swapDirect(model: string, version: string, spec: string, judge: string, security: Security, io: CliIo): Promise<number> {
  const fleets = fleetsOf(spec);
  const chosen = pickFleet(fleets, judge);
  const fleet = await JudgeFleet.fromSpec(chosen.spec, { log: (l) => io.out(`  ${l}`), security });
  try {
    io.out(
      `swapping ${fleets.length > 1 ? `judge ${chosen.name}'s ` : ""}${fleet.replicas.length} replica(s) to ${model}${version ? ` (version ${version})` : ""}:`,
    );
    const t0 = performance.now();
    const results = await fleet.swapModel(model, version);
    io.out(`done in ${((performance.now() - t0) / 1000).toFixed(1)}s; every replica now serves:`);
    for (const r of results) io.out(`  ${r.address}  ${r.modelVersion}${r.ok ? "" : `  (kept: ${r.error})`}`);
    return results.every((r) => r.ok) && results.length === fleet.replicas.length ? 0 : 1;
  } finally {
    fleet.close();
  }
}

async function swapViaOrchestrator(
  model: string,
  version: string,
  judge: string,
  address: string,
  tlsServerName: string,
  security: Security,
  io: CliIo,
): Promise<number> {
  const client = createClient(OrchestratorService, address, { deadlineMs: 600_000, security, tlsServerName: tlsServerName || undefined });
  try {
    const before = await client.status({});
    io.out(
      `orchestrator at ${address}: step ${before.step}/${before.maxSteps}, judge ${before.judgeVersion || "(none yet)"}; waiting for the next step boundary…`,
    );
    const t0 = performance.now();
    const res = await client.swapJudge({ path: model, version, judge });
    io.out(
      `swapped${judge ? ` judge ${judge}` : ""} in ${((performance.now() - t0) / 1000).toFixed(1)}s; effective from step ${res.effectiveStep}; every replica now serves:`,
    );
    for (const r of res.replicas) io.out(`  ${r.address}  ${r.modelVersion}  (load ${r.loadMs.toFixed(0)} ms)`);
    return 0;
  } finally {
    client.close();
  }
}

async function runCommand(action: string, address: string, tlsServerName: string, security: Security, io: CliIo): Promise<number> {
  const client = createClient(OrchestratorService, address, { deadlineMs: 600_000, security, tlsServerName: tlsServerName || undefined });
  try {
    switch (action) {
      case "status": {
        const s = await client.status({});
        const metrics = Object.entries(s.lastMetrics).filter(([k]) => ["mean_reward", "kl_per_token", "loss", "eval_mean_reward"].includes(k));
        io.out(
          `${RunState[s.state]} step ${s.step}/${s.maxSteps}, policy version ${s.policyVersion}, judge ${s.judgeVersion || "(none yet)"}, run ${s.runDir}`,
        );
        if (metrics.length) io.out(`  ${metrics.map(([k, v]) => `${k}=${v.toFixed(4)}`).join(" ")}`);
        for (const j of s.judges)
          io.out(
            `  judge ${j.name} (weight ${j.weight}): ${j.version || "(none yet)"}, mean reward ${j.meanReward.toFixed(4)}, replicas ${j.replicas.join(",") || "(none)"}`,
          );
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
        throw new ConfigError(`unknown run action "${action}"; expected status, pause, resume or checkpoint`);
    }
  } finally {
    client.close();
  }
}

/** Runs one command; a bad command line is a ConfigError (the process exits 2 with its message). */
export async function runCli(
  argv: string[],
  io: CliIo = { out: (l) => console.log(l) },
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const { config: o, positional, help } = parseSettings(JUDGE_CLI_SETTINGS, { argv, env, envPrefix: JUDGE_CLI_ENV_PREFIX, maxPositional: 3 });
  const [command, arg, third] = positional;
  if (help || !command || command === "help") {
    io.out(USAGE);
    return command || help ? 0 : 2;
  }
  if (!["status", "swap", "run", "quantize", "install"].includes(command))
    throw new ConfigError(`unknown command "${command}"; expected status, swap, run, quantize or install`);
  if (command === "quantize") return quantize(arg, third, o.keep, io);
  if (command === "install") {
    if (third !== undefined) throw new ConfigError(`install takes one source; got also ${JSON.stringify(third.slice(0, 100))}`);
    const installed = await installJudgeModel(arg ?? "", {
      repository: o.repository,
      name: o.name,
      version: o.version,
      sha256: o.sha256,
      maxBytes: o.max_model_bytes,
      fetchTimeoutMs: o.fetch_timeout_ms,
      log: (l) => io.out(l),
    });
    io.out(installed.modelPath); // last, alone: what `swap` takes (relative to the judges' repository)
    return 0;
  }
  if (third !== undefined) throw new ConfigError(`${command} takes at most one argument; got also ${JSON.stringify(third.slice(0, 100))}`);
  if (command === "swap" && o.judges && o.orchestrator) throw new ConfigError("swap needs one of --judges=SPEC or --orchestrator=HOST:PORT, not both");
  const target = resolveTarget(o);
  const { judges, orchestrator, security } = target;
  io.out(`(${target.source})`);
  if (command === "status") {
    if (!judges) throw new ConfigError("status needs --judges=SPEC (no local run to take the addresses from)");
    return status(judges, security, io);
  }
  if (command === "run") {
    if (!arg) throw new ConfigError("run takes one action: status, pause, resume or checkpoint");
    if (!orchestrator) throw new ConfigError("run needs --orchestrator=HOST:PORT (no local run to take the address from)");
    return runCommand(arg, orchestrator, o.orchestrator_tls_name, security, io);
  }
  if (!arg) throw new ConfigError("swap takes one model path: swap <model.onnx>");
  const viaJudges = o.judges !== "" || !orchestrator;
  if (viaJudges ? !judges : !orchestrator) throw new ConfigError("swap needs --judges=SPEC or --orchestrator=HOST:PORT");
  // Otherwise passed as given: the judges resolve it (relative paths against their model
  // repository), and they may run on other machines than this command. A relative path that
  // exists here is a local stack's file: sent absolute, not read against the repository.
  const model = !isAbsolute(arg) && existsSync(arg) ? resolve(arg) : arg;
  if (model !== arg) io.out(`(sending ${arg} as ${model})`);
  return viaJudges
    ? swapDirect(model, o.version, judges!, o.judge, security, io)
    : swapViaOrchestrator(model, o.version, o.judge, orchestrator!, o.orchestrator_tls_name, security, io);
}

/** `quantize IN OUT`: the int8 judge, loaded in onnxruntime and checked against the judge contract before it is written (never over an existing file). */
async function quantize(input: string | undefined, output: string | undefined, keep: string, io: CliIo): Promise<number> {
  if (!input || !output) throw new ConfigError("quantize takes two paths: quantize <in.onnx> <out.onnx>");
  if (!existsSync(input)) throw new ConfigError(`quantize: ${input} does not exist`);
  if (existsSync(output)) throw new ConfigError(`quantize: ${output} exists; give a new file (nothing was written)`);
  const { bytes, report } = quantizeModel(readFileSync(input), { keep: keep ? keep.split(",").map((k) => k.trim()) : [] });
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const info = inspectJudgeModel(bytes, session); // the contract still holds, for onnxruntime too
  await session.release();
  writeFileSync(output, bytes);
  io.out(
    `wrote ${output}: version ${info.version}, ${report.quantized.length} weight matrices int8${report.kept.length ? ` (${report.kept.join(", ")} fp32)` : ""}, ` +
      `${report.gelus} GELU as FastGelu, ${(report.bytesBefore / 1e6).toFixed(2)} MB → ${(report.bytesAfter / 1e6).toFixed(2)} MB`,
  );
  return 0;
}
