// `npm run judge -- <command>`: operate a judge fleet from the shell.
//   status --judges=SPEC                       what every replica serves
//   swap <model.onnx> [--version=V] --judges=SPEC          load on every replica now (rolled back if one refuses)
//   swap <model.onnx> [--version=V] --orchestrator=ADDR    roll it between two training steps
// SPEC: "host:port,host:port", "@file" or "dns:///service:port" (as the orchestrator's --judges).
import { JudgeService, OrchestratorService } from "@grpomesh/proto";
import { createClient } from "@grpomesh/rpc";
import { JudgeFleet, resolveJudgeTargets } from "@grpomesh/orchestrator";

export const USAGE = `usage: npm run judge -- <command> [options]
  status --judges=SPEC
  swap <model.onnx> [--version=V] (--judges=SPEC | --orchestrator=HOST:PORT)
SPEC is "host:port,host:port", "@file" or "dns:///service:port".`;

export interface CliIo {
  out(line: string): void;
}

function parse(argv: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/s.exec(arg);
    if (m) flags.set(m[1]!, m[2]!);
    else if (arg.startsWith("--")) throw new Error(`option ${arg} needs a value (--key=value)\n${USAGE}`);
    else positional.push(arg);
  }
  for (const key of flags.keys()) if (!["judges", "orchestrator", "version", "deadline-ms"].includes(key)) throw new Error(`unknown option --${key}\n${USAGE}`);
  return { positional, flags };
}

async function status(spec: string, io: CliIo): Promise<number> {
  const targets = await resolveJudgeTargets(spec);
  let failed = 0;
  for (const target of targets) {
    const client = createClient(JudgeService, target, { deadlineMs: 5_000 });
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

async function swapDirect(model: string, version: string, spec: string, io: CliIo): Promise<number> {
  const fleet = await JudgeFleet.fromSpec(spec, { log: (l) => io.out(`  ${l}`) });
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

async function swapViaOrchestrator(model: string, version: string, address: string, io: CliIo): Promise<number> {
  const client = createClient(OrchestratorService, address, { deadlineMs: 600_000 });
  try {
    const before = await client.status({});
    io.out(`orchestrator at ${address}: step ${before.step}/${before.maxSteps}, judge ${before.judgeVersion || "(none yet)"}; waiting for the next step boundary…`);
    const t0 = performance.now();
    const res = await client.swapJudge({ path: model, version });
    io.out(`swapped in ${((performance.now() - t0) / 1000).toFixed(1)}s; effective from step ${res.effectiveStep}; every replica now serves:`);
    for (const r of res.replicas) io.out(`  ${r.address}  ${r.modelVersion}  (load ${r.loadMs.toFixed(0)} ms)`);
    return 0;
  } finally {
    client.close();
  }
}

export async function runCli(argv: string[], io: CliIo = { out: (l) => console.log(l) }): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "help") {
    io.out(USAGE);
    return command ? 0 : 2;
  }
  const { positional, flags } = parse(rest);
  const judges = flags.get("judges");
  const orchestrator = flags.get("orchestrator");
  if (command === "status") {
    if (!judges) throw new Error(`status needs --judges=SPEC\n${USAGE}`);
    return status(judges, io);
  }
  if (command === "swap") {
    if (positional.length !== 1) throw new Error(`swap takes one model path; got ${positional.length}\n${USAGE}`);
    if (!judges === !orchestrator) throw new Error(`swap needs exactly one of --judges=SPEC or --orchestrator=HOST:PORT\n${USAGE}`);
    // Passed as given: the judges resolve it (relative paths against their --model-repository),
    // and they may run on other machines than this command.
    const model = positional[0]!;
    const version = flags.get("version") ?? "";
    return judges ? swapDirect(model, version, judges, io) : swapViaOrchestrator(model, version, orchestrator!, io);
  }
  throw new Error(`unknown command "${command}"\n${USAGE}`);
}
