// What each container runs, checked with the services' own settings tables: the main.ts exists, the
// flags and environment parse, the listen ports are the ports the manifests declare, paths land on
// the right volumes; and how the roles reach each other (orchestrator → judges, policy, reference;
// the run directory the policy and the orchestrator share).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { defaults, parseSettings, portOrNull } from "@grpomesh/config";
import { JUDGE_ENV_PREFIX, JUDGE_SETTINGS, judgeRelations } from "@grpomesh/judge/settings";
import { ORCHESTRATOR_ENV_PREFIX, ORCHESTRATOR_SETTINGS, orchestratorRelations } from "@grpomesh/orchestrator/settings";
import { POLICY_ENV_PREFIX, POLICY_SETTINGS } from "@grpomesh/policy/settings";
import { REFERENCE_ENV_PREFIX, REFERENCE_SETTINGS } from "@grpomesh/reference/settings";
import { where, type DeployBundle } from "./bundle.ts";
import { execForm, lastInstruction, parseDockerfile, SERVICES, stageEnv, targetOfImage, type ServiceName, type ServicePorts } from "./images.ts";
import {
  ON_DEMAND_DIR,
  findObject,
  namespaceOf,
  objectsOfKind,
  resolveContainerPort,
  selectedWorkloads,
  servicePortTarget,
  workloads,
  type Workload,
  type Container,
  type Volume,
  type VolumeMount,
} from "./k8s.ts";

/** The image's working directory: relative paths in flags resolve against it. */
export const APP_DIR = "/app";

interface ContainerCommand {
  w: Workload;
  container: Container;
  at: string;
  /** command + args as the kubelet runs them ($(VAR) expanded), the image's ENTRYPOINT/CMD filling gaps. */
  argv: string[];
  /** argv as a checkout runs it: the images' compiled main.js is main.ts through tsx here. */
  checkoutArgv: string[];
  /** Image ENV, then the container's env and envFrom, resolved. */
  env: Record<string, string>;
  /** Set when argv runs services/<service>/src/main.js (compiled) or main.ts. */
  service?: ServiceName;
  /** Arguments after main.js. */
  flags: string[];
  problems: string[];
}

interface ServiceSettings {
  /** gRPC listen address host:port. */
  address: string;
  metricsPort: number | null;
  /** Filesystem paths the service reads or writes, as given (absolute, or relative to base). */
  paths: Array<{ what: string; path: string; base: string; write: boolean }>;
  /** The parsed config, for wiring checks. */
  config: Record<string, unknown>;
}

/** Kubernetes `$(VAR)` expansion in command, args and env values; `$$(VAR)` stays literal. */
export function expandK8sVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) => {
    if (whole === "$$") return "$";
    return name !== undefined && name in env ? env[name]! : whole;
  });
}

/** The environment a container's process sees (image ENV, envFrom, env), with problems for what cannot be resolved. */
function containerEnv(bundle: DeployBundle, w: Workload, c: Container, imageEnv: Record<string, string>): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = { ...imageEnv };
  const problems: string[] = [];
  const at = `${where(w.m)} container ${c.name}`;
  for (const ef of c.envFrom ?? []) {
    const cm = ef.configMapRef ? findObject(bundle, "ConfigMap", ef.configMapRef.name ?? "", w.namespace) : undefined;
    for (const [k, v] of Object.entries(cm?.obj.data ?? {})) env[(ef.prefix ?? "") + k] = v;
  }
  for (const e of c.env ?? []) {
    if (!e.name) continue;
    if (e.value !== undefined) env[e.name] = expandK8sVars(String(e.value), env);
    else if (e.valueFrom?.fieldRef) {
      const path = e.valueFrom.fieldRef.fieldPath ?? "";
      const label = /^metadata\.labels\['([^']+)'\]$/.exec(path)?.[1];
      if (label !== undefined) {
        const value = w.pod.metadata?.labels?.[label];
        if (value === undefined) problems.push(`${at}: env ${e.name} reads the pod label ${label}, which the pod template does not carry`);
        else env[e.name] = value;
      } else if (path === "metadata.namespace") env[e.name] = w.namespace;
      else if (path === "metadata.name") env[e.name] = `${w.m.obj.metadata?.name}-pod`;
      else if (path === "status.podIP") env[e.name] = "10.0.0.1";
      else problems.push(`${at}: env ${e.name} uses fieldRef ${path}, which these checks cannot resolve`);
    } else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const v = findObject(bundle, "ConfigMap", ref.name ?? "", w.namespace)?.obj.data?.[ref.key ?? ""];
      if (v !== undefined) env[e.name] = v; // a missing one is checkWorkloads' problem
    }
  }
  return { env, problems };
}

/** What every container of every workload runs. */
export function containerCommands(bundle: DeployBundle): ContainerCommand[] {
  const df = parseDockerfile(bundle.dockerfile.text);
  const out: ContainerCommand[] = [];
  for (const w of workloads(bundle)) {
    for (const c of w.pod.spec?.containers ?? []) {
      const at = `${where(w.m)} container ${c.name}`;
      const problems: string[] = [];
      const stage = targetOfImage(df, c.image);
      const entrypoint = stage ? (execForm(lastInstruction(df, stage, "ENTRYPOINT")?.args ?? "[]") ?? []) : [];
      const cmd = stage ? (execForm(lastInstruction(df, stage, "CMD")?.args ?? "[]") ?? []) : [];
      const { env, problems: envProblems } = containerEnv(bundle, w, c, stage ? stageEnv(df, stage) : {});
      problems.push(...envProblems);
      const command = c.command ?? entrypoint;
      const args = c.args ?? (c.command ? [] : cmd);
      const argv = [...command, ...args].map((a) => expandK8sVars(String(a), env));
      for (const a of argv) {
        const unresolved = /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/.exec(a);
        if (unresolved) problems.push(`${at}: argument ${a} refers to $(${unresolved[1]}), which is not in the container's env`);
      }
      const mainAt = argv.findIndex((a) => /(^|\/)services\/[a-z-]+\/src\/main\.[jt]s$/.test(a));
      let service: ServiceName | undefined;
      let flags: string[] = [];
      let checkoutArgv = argv;
      if (mainAt >= 0) {
        const main = argv[mainAt]!;
        const rel = main.startsWith("/") ? posix.relative(APP_DIR, main) : main;
        const compiled = rel.endsWith(".js");
        // The images hold main.js compiled from main.ts beside it: the source is what exists here.
        const source = compiled ? rel.replace(/\.js$/, ".ts") : rel;
        const name = /^services\/([a-z-]+)\/src\/main\.[jt]s$/.exec(rel)?.[1];
        if (!existsSync(join(bundle.root, source))) problems.push(`${at}: runs ${main}, whose source ${source} does not exist in the repository`);
        else if (name && (SERVICES as readonly string[]).includes(name)) service = name as ServiceName;
        else problems.push(`${at}: runs ${main}, which is not one of the services ${SERVICES.join(", ")}`);
        const nodeFlags = argv.slice(1, mainAt).join(" ");
        if (argv[0] !== "node") problems.push(`${at}: runs ${JSON.stringify(argv.slice(0, mainAt + 1))}; expected node ${rel}`);
        else if (compiled && nodeFlags.includes("--import tsx"))
          problems.push(`${at}: runs the compiled ${rel} through tsx; the images hold no tsx: run node ${rel}`);
        else if (!compiled && !nodeFlags.includes("--import tsx"))
          problems.push(
            `${at}: runs ${JSON.stringify(argv.slice(0, mainAt + 1))}; TypeScript sources need node --import tsx (the images run the compiled main.js)`,
          );
        flags = argv.slice(mainAt + 1);
        if (compiled) checkoutArgv = [...argv.slice(0, mainAt), "--import", "tsx", main.replace(/\.js$/, ".ts"), ...flags];
      }
      out.push({ w, container: c, at, argv, checkoutArgv, env, service, flags, problems });
    }
  }
  return out;
}

/** `--config=/etc/x/run.json` read from the ConfigMap volume mounted there, written to a temp file. */
function materializeConfigFile(bundle: DeployBundle, cc: ContainerCommand, path: string, dir: string): string | string[] {
  const { mount, volume: vol } = volumeAt(cc, path);
  if (!mount || !vol?.configMap) return [`${cc.at}: --config=${path} is not on a ConfigMap volume of the container`];
  const rel = posix.relative(mount.mountPath!, path);
  const key = vol.configMap.items ? vol.configMap.items.find((i) => i.path === rel)?.key : rel;
  const cm = findObject(bundle, "ConfigMap", vol.configMap.name ?? "", cc.w.namespace);
  const text = key !== undefined ? cm?.obj.data?.[key] : undefined;
  if (text === undefined)
    return [
      `${cc.at}: --config=${path}: ConfigMap ${vol.configMap.name} has no entry for ${rel} (keys: ${Object.keys(cm?.obj.data ?? {}).join(", ") || "none"})`,
    ];
  const file = join(dir, rel.replace(/\//g, "_"));
  writeFileSync(file, text);
  return file;
}

type Config = Record<string, string | number | boolean>;
type Path = ServiceSettings["paths"][number];
const path = (what: string, p: unknown, write = false, base = APP_DIR): Path[] => (p ? [{ what: `--${what}`, path: String(p), base, write }] : []);

/** Each service: its settings table parsed from a command line and environment, and the paths its config names. */
const ROLES: Record<ServiceName, { parse: (argv: string[], env: Record<string, string>) => Config; paths: (c: Config) => Path[] }> = {
  judge: {
    parse: (argv, env) => parseSettings(JUDGE_SETTINGS, { argv, env, envPrefix: JUDGE_ENV_PREFIX, check: judgeRelations }).config,
    paths: (c) => [
      ...path("model_repository", c.model_repository),
      ...path("model", c.model, false, c.model_repository ? posix.resolve(APP_DIR, String(c.model_repository)) : APP_DIR),
    ],
  },
  policy: {
    parse: (argv, env) => parseSettings(POLICY_SETTINGS, { argv, env, envPrefix: POLICY_ENV_PREFIX }).config,
    paths: (c) => [...path("checkpoint", c.checkpoint), ...path("checkpoint_root", c.checkpoint_root, true)],
  },
  reference: {
    parse: (argv, env) => parseSettings(REFERENCE_SETTINGS, { argv, env, envPrefix: REFERENCE_ENV_PREFIX }).config,
    paths: (c) => [...path("checkpoint", c.checkpoint), ...path("dataset_meta", c.dataset_meta !== "none" && c.dataset_meta)],
  },
  orchestrator: {
    parse: (argv) => parseSettings(ORCHESTRATOR_SETTINGS, { argv, check: orchestratorRelations }).config,
    paths: (c) => [...path("run_dir", c.run_dir, true), ...path("corpus", c.corpus)],
  },
};

/** Parses a container's flags and env with its service's own settings table (a --config file read from its ConfigMap). */
export function parseServiceSettings(bundle: DeployBundle, cc: ContainerCommand): ServiceSettings | string[] {
  const dir = mkdtempSync(join(tmpdir(), "deploy-check-"));
  try {
    const argv: string[] = [];
    for (const f of cc.flags) {
      const m = /^--config=(.*)$/.exec(f);
      const file = m ? materializeConfigFile(bundle, cc, m[1]!, dir) : f;
      if (Array.isArray(file)) return file;
      argv.push(m ? `--config=${file}` : f);
    }
    const role = ROLES[cc.service!];
    const c = role.parse(argv, cc.env);
    return { address: String(c.address), metricsPort: portOrNull(c.metrics_port as "off" | number), paths: role.paths(c), config: c };
  } catch (err) {
    return [`${cc.at}: services/${cc.service} refuses its command line: ${(err as Error).message.split("\n")[0]}`];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The volume mount that holds an absolute path (the deepest one). */
function mountFor(c: Container, path: string): VolumeMount | undefined {
  return (c.volumeMounts ?? [])
    .filter((vm) => vm.mountPath && (path === vm.mountPath || path.startsWith(vm.mountPath.replace(/\/$/, "") + "/")))
    .sort((a, b) => b.mountPath!.length - a.mountPath!.length)[0];
}

/** The mount that holds an absolute path in a container, and the pod's volume behind it. */
export function volumeAt(cc: ContainerCommand, path: string): { mount?: VolumeMount; volume?: Volume } {
  const mount = mountFor(cc.container, path);
  return { mount, volume: mount && cc.w.pod.spec?.volumes?.find((v) => v.name === mount.name) };
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** Containers of the applied workloads run a service's main.ts with flags it accepts, on the declared ports. */
export function checkServiceCommands(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  for (const cc of containerCommands(bundle)) {
    problems.push(...cc.problems);
    const onDemand = cc.w.m.file.startsWith(ON_DEMAND_DIR);
    if (!cc.service) {
      const runsAMain = cc.argv.some((a) => /(^|\/)services\/[a-z-]+\/src\/main\.[jt]s$/.test(a)); // its problem is said above
      if (!onDemand && !runsAMain) problems.push(`${cc.at}: runs ${JSON.stringify(cc.argv)}, not a service's main.js (node services/<name>/src/main.js)`);
      continue;
    }
    const settings = parseServiceSettings(bundle, cc);
    if (Array.isArray(settings)) {
      problems.push(...settings);
      continue;
    }
    const { host, port } = splitHostPort(settings.address);
    if (!["0.0.0.0", "[::]", "::"].includes(host))
      problems.push(`${cc.at}: listens on ${settings.address}; other pods cannot reach ${host}, listen on 0.0.0.0:${port}`);
    if (settings.metricsPort !== null && settings.config.metrics_host !== "0.0.0.0")
      problems.push(
        `${cc.at}: serves /metrics on ${settings.config.metrics_host}; pass --metrics_host=0.0.0.0 so Prometheus can scrape it (the default is loopback)`,
      );
    for (const [name, serves] of [
      ["grpc", port],
      ["metrics", settings.metricsPort],
    ] as const) {
      const declared = (cc.container.ports ?? []).find((p) => p.name === name)?.containerPort;
      if (declared !== (serves ?? undefined))
        problems.push(`${cc.at}: serves ${name} on ${serves ?? "no port (off)"} but declares port ${name}=${declared ?? "(none)"}; make them agree`);
    }
    for (const p of settings.paths) {
      const abs = posix.resolve(p.base, p.path);
      const mount = mountFor(cc.container, abs);
      if (mount) {
        if (p.write && mount.readOnly)
          problems.push(`${cc.at}: ${p.what}=${p.path} is written to, but volume ${mount.name} is mounted read-only at ${mount.mountPath}`);
        continue;
      }
      if (p.write)
        problems.push(
          `${cc.at}: ${p.what}=${p.path} (${abs}) is written to but lies on no volume: the data would be lost with the pod (and the root filesystem is read-only)`,
        );
      else if (!abs.startsWith(APP_DIR + "/") || !existsSync(join(bundle.root, posix.relative(APP_DIR, abs)))) {
        problems.push(`${cc.at}: ${p.what}=${p.path} (${abs}) is on no volume and not a file of the repository image`);
      }
    }
  }
  return problems;
}

/** Each service's default gRPC and metrics ports, from its own settings table. */
export function defaultServicePorts(): ServicePorts {
  const ports = (c: { address: string; metrics_port: number | "off" }) => ({ grpc: splitHostPort(c.address).port, metrics: portOrNull(c.metrics_port) });
  // The orchestrator's /metrics is off by default; its images and manifests use the next free port.
  const [judge, policy, reference, orchestrator] = [JUDGE_SETTINGS, POLICY_SETTINGS, REFERENCE_SETTINGS, ORCHESTRATOR_SETTINGS].map((t) => ports(defaults(t)));
  return { judge: judge!, policy: policy!, reference: reference!, orchestrator: orchestrator! };
}

// ---------------------------------------------------------------- wiring

interface Parsed {
  cc: ContainerCommand;
  s: ServiceSettings;
}

function parsedServices(bundle: DeployBundle): Parsed[] {
  const out: Parsed[] = [];
  for (const cc of containerCommands(bundle)) {
    if (!cc.service || cc.w.m.file.startsWith(ON_DEMAND_DIR)) continue;
    const s = parseServiceSettings(bundle, cc);
    if (!Array.isArray(s)) out.push({ cc, s });
  }
  return out;
}

/** The Service a host name means from a pod in `namespace`: name, name.ns, name.ns.svc, name.ns.svc.cluster.local. */
function serviceForHost(bundle: DeployBundle, host: string, namespace: string) {
  const m = /^([a-z0-9-]+)(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?\.?$/.exec(host);
  if (!m) return undefined;
  return findObject(bundle, "Service", m[1]!, m[2] ?? namespace);
}

/** A name an orchestrator checks a role's certificate under, and the pods that must present it. */
export interface DialledName {
  /** The DNS name the certificate must carry: --<role>_tls_name, else the host dialled. */
  name: string;
  /** How the orchestrator comes to check it, for messages: "<where> --policy=policy-grpo-1:50071 (--policy_tls_name)". */
  via: string;
  backends: Workload[];
}

/** Every name every orchestrator checks a role's certificate under (policy, reference, judges). */
export function dialledNames(bundle: DeployBundle): DialledName[] {
  const out: DialledName[] = [];
  for (const orch of parsedServices(bundle).filter((p) => p.cc.service === "orchestrator")) {
    const cfg = orch.s.config;
    const ns = orch.cc.w.namespace;
    const dns = /^dns:\/\/[^/]*\/(.+):(\d+)$/.exec(String(cfg.judges));
    const dialled = [
      { flag: "policy", host: splitHostPort(String(cfg.policy)).host, nameKey: "policy_tls_name" },
      { flag: "reference", host: splitHostPort(String(cfg.reference)).host, nameKey: "reference_tls_name" },
      ...(dns ? [{ flag: "judges", host: dns[1]!, nameKey: "judges_tls_name" }] : []),
    ];
    for (const d of dialled) {
      const svc = serviceForHost(bundle, d.host, ns);
      const given = String(cfg[d.nameKey] ?? "");
      out.push({
        name: given || d.host,
        via: `${orch.cc.at} --${d.flag}=${String(cfg[d.flag])}${given ? ` (--${d.nameKey}=${given})` : ""}`,
        backends: svc ? selectedWorkloads(bundle, svc) : [],
      });
    }
  }
  return out;
}

/** The orchestrator reaches the judges, policy and reference; run directory and model repository volumes. */
export function checkWiring(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  const services = parsedServices(bundle);
  const of = (name: ServiceName) => services.filter((p) => p.cc.service === name);
  for (const name of SERVICES) if (of(name).length === 0) problems.push(`no applied workload runs services/${name}/src/main.js with a valid command line`);
  const judges = of("judge");

  for (const orch of of("orchestrator")) {
    const at = orch.cc.at;
    const cfg = orch.s.config;
    // Judges: dns:/// of a headless Service over the judge pods, on the port the judges listen on.
    const spec = String(cfg.judges);
    const dns = /^dns:\/\/[^/]*\/(.+):(\d+)$/.exec(spec);
    if (!dns) {
      problems.push(
        `${at}: --judges=${spec}; in Kubernetes use dns:///<headless Service>.<namespace>.svc.cluster.local:<port>, re-resolved so new judge pods join`,
      );
    } else {
      const [, host, portText] = dns as unknown as [string, string, string];
      const port = Number(portText);
      const fqdn = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(host);
      const svc = fqdn ? findObject(bundle, "Service", fqdn[1]!, fqdn[2]!) : undefined;
      if (!fqdn) problems.push(`${at}: --judges host ${host} is not a Service's full DNS name <service>.<namespace>.svc.cluster.local`);
      else if (!svc) problems.push(`${at}: --judges names Service ${fqdn[1]} in namespace ${fqdn[2]}, which no manifest defines`);
      else {
        if (svc.obj.spec?.clusterIP !== "None")
          problems.push(
            `${at}: --judges names Service ${fqdn[1]}, which is not headless (clusterIP: None): its DNS name would give one virtual IP, not every judge`,
          );
        const pods = selectedWorkloads(bundle, svc);
        const judgePods = pods.filter((w) => judges.some((j) => j.cc.w.m === w.m));
        if (judgePods.length === 0 || judgePods.length !== pods.length)
          problems.push(`${at}: --judges Service ${fqdn[1]} selects ${pods.map((w) => where(w.m)).join(", ") || "no pods"}; expected the judge pods only`);
        if (!(svc.obj.spec?.ports ?? []).some((p) => p.port === port)) problems.push(`${at}: --judges port ${port} is not a port of Service ${fqdn[1]}`);
        for (const j of judges.filter((j) => judgePods.some((w) => w.m === j.cc.w.m))) {
          const listen = splitHostPort(j.s.address).port;
          // Headless: clients dial pod IPs directly, so the port must be the one the judge listens on.
          if (listen !== port) problems.push(`${at}: --judges dials port ${port} on judge pods, which listen on ${listen} (${j.cc.at})`);
        }
      }
    }
    // Policy and reference through their Services.
    const policies: Parsed[] = [];
    for (const role of ["policy", "reference"] as const) {
      const target = String(cfg[role]);
      const { host, port } = splitHostPort(target);
      const svc = serviceForHost(bundle, host, orch.cc.w.namespace);
      if (!svc) {
        problems.push(`${at}: --${role}=${target} names no Service of namespace ${orch.cc.w.namespace}`);
        continue;
      }
      const sp = (svc.obj.spec?.ports ?? []).find((p) => p.port === port);
      if (!sp) {
        problems.push(`${at}: --${role}=${target}: Service ${svc.obj.metadata?.name} has no port ${port}`);
        continue;
      }
      const backends = of(role).filter((p) => selectedWorkloads(bundle, svc).some((w) => w.m === p.cc.w.m));
      if (backends.length === 0) problems.push(`${at}: --${role}=${target}: Service ${svc.obj.metadata?.name} selects no pod running services/${role}`);
      if (backends.length > 1)
        problems.push(
          `${at}: --${role}=${target}: Service ${svc.obj.metadata?.name} selects the pods of ${backends.map((b) => where(b.cc.w.m)).join(", ")}; expected one run's ${role} (a run label missing from a selector?)`,
        );
      if (role === "policy") policies.push(...backends);
      for (const b of backends) {
        const cp = servicePortTarget(b.cc.w.pod, sp);
        if (cp?.port.containerPort !== splitHostPort(b.s.address).port)
          problems.push(`${at}: --${role}=${target} reaches container port ${cp?.port.containerPort}, but ${b.cc.at} listens on ${b.s.address}`);
      }
    }
    // Checkpoints: the policy writes into the orchestrator's run directory, so both must see it at the same path.
    const runDir = String(cfg.run_dir);
    const { mount: orchMount, volume: orchVolume } = volumeAt(orch.cc, runDir);
    const orchClaim = orchVolume?.persistentVolumeClaim?.claimName;
    if (!orchClaim) problems.push(`${at}: --run_dir=${runDir} is not on a PersistentVolumeClaim`);
    for (const pol of policies) {
      // Passed explicitly: the default (runs, relative to the working directory) is in the image.
      const root = pol.cc.flags.some((f) => /^--checkpoint[_-]root=/.test(f)) ? (pol.s.config.checkpoint_root as string) : null;
      if (!root) {
        problems.push(`${pol.cc.at}: no --checkpoint_root; set it to the run-directory volume's mount path so SaveCheckpoint/LoadCheckpoint stay on it`);
        continue;
      }
      const { mount: polMount, volume: polVolume } = volumeAt(pol.cc, root);
      const polClaim = polVolume?.persistentVolumeClaim?.claimName;
      if (orchClaim && polClaim !== orchClaim)
        problems.push(
          `${pol.cc.at}: --checkpoint_root=${root} is on ${polClaim ? `claim ${polClaim}` : "no claim"}; the orchestrator's run directory is on claim ${orchClaim}`,
        );
      if (orchMount && polMount && orchMount.mountPath !== polMount.mountPath) {
        problems.push(
          `${pol.cc.at}: mounts the run-directory claim at ${polMount.mountPath}, the orchestrator at ${orchMount.mountPath}; checkpoint paths are absolute, so the paths must match`,
        );
      }
      const rel = posix.relative(root, runDir);
      if (rel.startsWith("..") || posix.isAbsolute(rel))
        problems.push(
          `${pol.cc.at}: --checkpoint_root=${root} does not contain the orchestrator's --run_dir=${runDir}; the policy would refuse its checkpoint folders`,
        );
    }
  }

  // Runs side by side: each its own run directory and its own policy (the one writer of its run).
  const orchestrators = of("orchestrator");
  for (const [i, a] of orchestrators.entries()) {
    for (const b of orchestrators.slice(i + 1)) {
      if (a.s.config.run_dir === b.s.config.run_dir)
        problems.push(`${a.cc.at} and ${b.cc.at} both write --run_dir=${String(a.s.config.run_dir)}; every run needs its own run directory`);
      const pa = serviceForHost(bundle, splitHostPort(String(a.s.config.policy)).host, a.cc.w.namespace);
      const pb = serviceForHost(bundle, splitHostPort(String(b.s.config.policy)).host, b.cc.w.namespace);
      const shared = pa && pb ? selectedWorkloads(bundle, pa).filter((w) => selectedWorkloads(bundle, pb).some((x) => x.m === w.m)) : [];
      if (shared.length)
        problems.push(`${a.cc.at} and ${b.cc.at} both train the policy of ${shared.map((w) => where(w.m)).join(", ")}; every run needs its own policy`);
    }
  }

  // The policy is the one writer.
  for (const pol of of("policy")) {
    const spec = pol.cc.w.m.obj.spec;
    if (pol.cc.w.m.obj.kind !== "Deployment" || (spec?.replicas ?? 1) !== 1 || spec?.strategy?.type !== "Recreate") {
      problems.push(`${pol.cc.at}: the policy must be a Deployment of 1 replica with strategy Recreate (one writer, never two during a rollout)`);
    }
  }

  // Judges read their model repository from a read-only claim.
  for (const j of judges) {
    const repo = j.s.config.model_repository as string;
    if (!repo) {
      problems.push(`${j.cc.at}: no --model_repository; LoadModel paths would be unconfined and there is no volume to copy new models into`);
      continue;
    }
    const { mount, volume: vol } = volumeAt(j.cc, posix.resolve(APP_DIR, repo));
    if (!vol?.persistentVolumeClaim) problems.push(`${j.cc.at}: --model_repository=${repo} is not on a PersistentVolumeClaim`);
    else if (!mount!.readOnly || !vol.persistentVolumeClaim.readOnly)
      problems.push(`${j.cc.at}: the model repository claim ${vol.persistentVolumeClaim.claimName} should be mounted read-only (volume and mount)`);
    if (!j.s.config.model)
      problems.push(`${j.cc.at}: no --model (or JUDGE_MODEL): a judge that starts NOT_SERVING waits for LoadModel, and a scaled-up replica would never serve`);
  }

  return problems;
}
