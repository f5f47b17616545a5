// The local stack's service processes (judges, reference, policy) on free loopback ports, shared
// by `npm start`, the benchmarks and the tests so all run exactly the same services: mutual TLS and
// an admin token by default, judges and the reference restarted when they die.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { INSECURE, createLocalCredentials, loadSecurity, type LocalCredentials, type Security } from "@grpomesh/rpc";
import { DEFAULT_JUDGE_NAME, formatWeightedSpecs, parseWeightedSpecs } from "@grpomesh/orchestrator/settings";
import { Supervisor, freePort, type ProcessSpec, type RestartPolicy } from "./supervisor.ts";
import { ROOT } from "./settings.ts";

export { ROOT };

export interface StackOptions {
  generator: string;
  /** The judge model, or several named judges with weights ("name@weight=path;name=path", the orchestrator's --judges syntax). */
  judgeModel: string;
  /** Replicas of each judge model. */
  judges: number;
  logDir: string;
  /** Policy and reference engine: auto (default; the fastest installed), onnx or tfjs. */
  engine?: string;
  /** onnxruntime execution provider of policy, reference and judges (auto, cpu, webgpu, cuda); absent: each service's default (auto). */
  executionProvider?: string;
  /** Let the policy's and reference's onnxruntime threads spin after a run (--spin_wait). */
  spinWait?: boolean;
  /** Policy's and reference's onnxruntime threads (--threads; default one per core). */
  threads?: number;
  /**
   * What the services serve with: mutual TLS and an admin token. Default: fresh credentials in
   * `secretsDir`. "insecure": plaintext and no token (the policy then refuses Update).
   */
  credentials?: LocalCredentials | "insecure";
  /** false: plaintext gRPC, the admin token still required (a baseline to measure TLS's cost against). */
  tls?: boolean;
  /** Where fresh credentials are made; default a `secrets` folder beside `logDir`. */
  secretsDir?: string;
  /** The policy's --checkpoint_root (where SaveCheckpoint may write): the run directory. */
  checkpointRoot?: string;
  /** More flags for each role's command line. */
  flags?: Partial<Record<"judge" | "reference" | "policy", string[]>>;
  /** Judges and the reference are restarted when they die (default); false: any death is fatal. */
  restart?: Partial<RestartPolicy> | false;
  onReady?: (name: string, ms: number, service: StackService) => void;
  timeoutMs?: number;
  /**
   * Where each role runs (`npm run sim`'s hosts): the address it binds and a command prefix such as
   * `ip netns exec NS taskset -c 1`. A placed service is ready on its start line alone (its health
   * check would have to come from inside its namespace). Default: this machine's loopback.
   */
  place?: (role: "judge" | "reference" | "policy") => { bindHost: string; wrap: readonly string[] };
}

export interface StackService {
  /** gRPC address, from the service's start line. */
  address: string;
  metrics: number;
  startLine: string;
}

export interface Stack {
  supervisor: Supervisor;
  policy: string;
  reference: string;
  /** Every judge replica's address, of every judge. */
  judges: string[];
  /** Each judge: its name, weight and its replicas' addresses. */
  judgeFleets: Array<{ name: string; weight: number; addresses: string[] }>;
  metricsPorts: Map<string, number>;
  services: Record<string, StackService>;
  /** null when the stack runs insecure. */
  credentials: LocalCredentials | null;
  /** How a client reaches the services: the client certificate and the admin token. */
  clientSecurity: Security;
  /** The orchestrator's flags for this stack: where policy, reference and judges are, and the client --tls_dir and --admin_token_file (none when insecure). */
  orchestratorFlags: string[];
}

export function tsxProcess(name: string, script: string, flags: string[], extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return { name, command: process.execPath, args: ["--import", "tsx", join(ROOT, script), ...flags], ...extra };
}

/** The credentials folder a run's stack uses: `server/`, `client/` and `admin-token`, as createLocalCredentials writes them. */
export function credentialsIn(dir: string): LocalCredentials {
  return { dir, serverTlsDir: join(dir, "server"), clientTlsDir: join(dir, "client"), adminTokenFile: join(dir, "admin-token") };
}

/**
 * The run's credentials: those already in `dir` when `reuse` is set and they are complete and valid
 * for another day, else fresh ones. `reason` says why fresh ones were made over existing ones.
 */
export async function runCredentials(dir: string, { reuse }: { reuse: boolean }): Promise<{ credentials: LocalCredentials; reused: boolean; reason?: string }> {
  const existing = credentialsIn(dir);
  if (reuse && existsSync(dir)) {
    const problem = credentialsProblem(existing);
    if (!problem) return { credentials: existing, reused: true };
    return { credentials: await createLocalCredentials(dir), reused: false, reason: problem };
  }
  return { credentials: await createLocalCredentials(dir), reused: false };
}

function credentialsProblem(c: LocalCredentials): string | undefined {
  for (const tls of [c.serverTlsDir, c.clientTlsDir]) {
    for (const file of ["tls.crt", "tls.key", "ca.crt"]) if (!existsSync(join(tls, file))) return `${join(tls, file)} is missing`;
    const validTo = Date.parse(new X509Certificate(readFileSync(join(tls, "tls.crt"))).validTo);
    if (!(validTo > Date.now() + 24 * 3600_000)) return `${join(tls, "tls.crt")} expires ${new Date(validTo).toISOString()}`;
  }
  if (!existsSync(c.adminTokenFile)) return `${c.adminTokenFile} is missing`;
  return undefined;
}

/** The key=value fields of a start line (`policy: serving address=… engine="…"`), quoted values unquoted. */
export function startLineFields(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const m of line.matchAll(/ ([a-z_]+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))/g)) fields.set(m[1]!, m[2] !== undefined ? JSON.parse(`"${m[2]}"`) : m[3]!);
  return fields;
}

/** Starts the services and resolves once every one has printed its start line and answers SERVING (rejects if one dies first). */
export async function startStack(opts: StackOptions, supervisor = new Supervisor(opts.logDir)): Promise<Stack> {
  const credentials =
    opts.credentials === "insecure" ? null : (opts.credentials ?? (await createLocalCredentials(opts.secretsDir ?? join(dirname(opts.logDir), "secrets"))));
  const tls = opts.tls ?? true;
  const clientSecurity = credentials ? loadSecurity({ tlsDir: tls ? credentials.clientTlsDir : null, adminTokenFile: credentials.adminTokenFile }) : INSECURE;
  const restart = opts.restart === false ? undefined : (opts.restart ?? {});
  const metricsPorts = new Map<string, number>();
  const service = async (name: string, script: string, flags: string[], { restartable = false } = {}): Promise<[ProcessSpec, string]> => {
    const port = await freePort();
    metricsPorts.set(name, await freePort());
    const role = script.split("/")[1]! as "judge" | "reference" | "policy";
    const place = opts.place?.(role);
    const address = `${place?.bindHost ?? "127.0.0.1"}:${port}`;
    const security = credentials ? [...(tls ? [`--tls_dir=${credentials.serverTlsDir}`] : []), `--admin_token_file=${credentials.adminTokenFile}`] : [];
    const spec = tsxProcess(name, script, [
      ...flags,
      ...(opts.flags?.[role] ?? []),
      ...security,
      `--address=${address}`,
      `--metrics_port=${metricsPorts.get(name)}`,
    ]);
    return [
      {
        ...spec,
        ...(place?.wrap.length ? { command: place.wrap[0]!, args: [...place.wrap.slice(1), spec.command, ...spec.args] } : {}),
        ...(place ? {} : { healthTarget: address }),
        healthSecurity: clientSecurity,
        // runServiceMain prints it once the server is up; health alone can pass before it is written.
        readyLine: new RegExp(`^${role}: serving `),
        ...(restartable && restart ? { restart } : {}),
      },
      address,
    ];
  };
  // One onnxruntime session per local replica: the replicas already share this machine's cores
  // with each other and with the policy and reference. `judges` replicas of each judge model: one
  // plain model's are judge-0, judge-1, …; a named judge's judge-<name>-0, ….
  const judgeModels = parseWeightedSpecs(opts.judgeModel);
  const provider = opts.executionProvider ? [`--execution_provider=${opts.executionProvider}`] : [];
  const plain = judgeModels.length === 1 && judgeModels[0]!.name === DEFAULT_JUDGE_NAME;
  const fleets = await Promise.all(
    judgeModels.map(async (m) => ({
      ...m,
      processes: await Promise.all(
        Array.from({ length: opts.judges }, (_, i) =>
          service(
            plain ? `judge-${i}` : `judge-${m.name}-${i}`,
            "services/judge/src/main.ts",
            [`--model=${m.spec}`, "--sessions=1", "--threads=1", ...provider],
            {
              restartable: true,
            },
          ),
        ),
      ),
    })),
  );
  const judges = fleets.flatMap((f) => f.processes);
  const engine = [
    ...(opts.engine ? [`--engine=${opts.engine}`] : []),
    ...provider,
    ...(opts.spinWait ? ["--spin_wait=true"] : []),
    ...(opts.threads ? [`--threads=${opts.threads}`] : []),
  ];
  // The reference is stateless (frozen weights): a restart on the same port serves the same answers.
  const reference = await service("reference", "services/reference/src/main.ts", [`--checkpoint=${opts.generator}`, ...engine], { restartable: true });
  // The policy holds the training state since the last checkpoint: it is not restarted (the run resumes instead).
  const policy = await service("policy", "services/policy/src/main.ts", [
    `--checkpoint=${opts.generator}`,
    ...engine,
    ...(opts.checkpointRoot ? [`--checkpoint_root=${opts.checkpointRoot}`] : []),
  ]);
  const services: Record<string, StackService> = {};
  await supervisor.startAll([...judges.map((j) => j[0]), reference[0], policy[0]], {
    timeoutMs: opts.timeoutMs ?? 180_000,
    onReady: (name, ms, proc) => {
      const startLine = proc.startLine ?? "";
      const address = startLineFields(startLine).get("address") ?? proc.spec.healthTarget!;
      services[name] = { address, metrics: metricsPorts.get(name)!, startLine };
      opts.onReady?.(name, ms, services[name]);
    },
  });
  const judgeFleets = fleets.map((f) => ({ name: f.name, weight: f.weight, addresses: f.processes.map((j) => services[j[0].name]!.address) }));
  const roles = { policy: services.policy!.address, reference: services.reference!.address, judges: judgeFleets.flatMap((f) => f.addresses) };
  return {
    supervisor,
    ...roles,
    judgeFleets,
    metricsPorts,
    services,
    credentials,
    clientSecurity,
    orchestratorFlags: [
      `--policy=${roles.policy}`,
      `--reference=${roles.reference}`,
      `--judges=${judgesFlag(judgeFleets)}`,
      ...(credentials ? [...(tls ? [`--tls_dir=${credentials.clientTlsDir}`] : []), `--admin_token_file=${credentials.adminTokenFile}`] : []),
    ],
  };
}

/** The orchestrator's --judges value for the stack's judges: one plain judge's addresses, or each named judge's with its weight. */
export function judgesFlag(fleets: Stack["judgeFleets"]): string {
  return formatWeightedSpecs(fleets.map((f) => ({ name: f.name, weight: f.weight, spec: f.addresses.join(",") })));
}

/** What the policy's start line says about its engine, e.g. `policy engine: onnxruntime cpu, 2 threads (auto: …)`. */
export function engineLine(policyStartLine: string): string {
  const fields = startLineFields(policyStartLine);
  const engine = fields.get("engine");
  if (!engine) return `policy engine: not on its start line (${policyStartLine.slice(0, 200)})`;
  const reason = fields.get("engine_reason");
  const placement = fields.get("placement");
  return `policy engine: ${engine}${reason ? ` (${reason})` : ""}${placement ? `; graph nodes: ${placement}` : ""}`;
}

/** What a judge's start line says about its execution provider, e.g. `judge provider: webgpu on … (all 140 nodes on webgpu)`. */
export function judgeProviderLine(judgeStartLine: string): string {
  const fields = startLineFields(judgeStartLine);
  const provider = fields.get("provider");
  if (!provider) return `judge provider: not on its start line (${judgeStartLine.slice(0, 200)})`;
  const placement = fields.get("placement");
  return `judge provider: ${provider}${placement && placement !== "-" ? ` (${placement})` : ""}`;
}

/** `<run>/stack.json`: where a run's services listen and its credentials are, for the CLIs (`npm run judge -- …`). */
export interface StackFile {
  services: Record<string, { address: string; metrics: number }>;
  orchestrator: string;
  /** The orchestrator's --judges value: every judge, named and weighted (what `npm run judge -- status` shows). */
  judges: string;
  tls_dir: string;
  admin_token_file: string;
}

export function stackFile(stack: Stack, orchestrator: { address: string; metrics: number }): StackFile {
  return {
    services: {
      ...Object.fromEntries(Object.entries(stack.services).map(([name, s]) => [name, { address: s.address, metrics: s.metrics }])),
      orchestrator,
    },
    orchestrator: orchestrator.address,
    judges: judgesFlag(stack.judgeFleets),
    tls_dir: stack.clientSecurity.tls?.dir ?? "",
    admin_token_file: stack.clientSecurity.adminTokenFile ?? "",
  };
}

/** Writes `<runDir>/stack.json` whole or not at all. */
export function writeStackFile(runDir: string, file: StackFile): string {
  const path = join(runDir, "stack.json");
  writeFileSync(`${path}.tmp`, JSON.stringify(file, null, 2) + "\n");
  renameSync(`${path}.tmp`, path);
  return path;
}
