// `npm run kube-play`: the CPU variant of the Kubernetes manifests (deploy/k8s/overlays/cpu, rendered
// by kustomize) run with `podman kube play` on this machine: the model store filled by the
// load-models Job, judges, policy, reference and the orchestrator Job of run grpo-1 in containers of
// the images `npm run images` built; while it trains, a judge swap through the swap-judge Job and the
// judges scaled 1 → 3 → 1; then everything removed. What podman cannot express is changed by
// podman-plan.ts and listed at the start. Root (or a rootless podman with subuid ranges) and podman.
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandLine, setting, z, type Values } from "@grpomesh/config";
import { LOG_FILE, readLog } from "@grpomesh/loop";
import { stringify } from "yaml";
import { parseYamlDocuments, REPO_ROOT } from "./bundle.ts";
import { hasCommand, parseBytes } from "./host.ts";
import type { K8sObject } from "./k8s.ts";
import { renderKustomization } from "./kustomize.ts";
import { planForPodman, replicaOf, type PlayUnit, type PodmanPlan } from "./podman-plan.ts";
import { makeClusterSecrets, secretData } from "./secrets.ts";

const COMMAND = "npm run kube-play --";

export const KUBE_PLAY_SETTINGS = {
  overlay: setting(z.string().regex(/^[a-z0-9-]+$/, "an overlay folder name"), "cpu", "deploy/k8s/overlays/<overlay> to render"),
  max_iters: setting(z.int().min(20).max(100_000), 400, "the run's length in steps (run.json's max_iters is replaced)"),
  swap_at: setting(z.int().min(1), 10, "the step after which the swap-judge Job runs"),
  judges_max: setting(z.int().min(2).max(8), 3, "judges are scaled from 1 to this many and back while it trains"),
  hold_steps: setting(z.int().min(1), 15, "steps trained at the larger judge count before scaling back"),
  timeout_s: setting(z.int().min(60), 1200, "the whole run's limit; past it everything is removed and the run fails"),
  keep: setting(z.boolean(), false, "leave pods, volumes and the network for inspection (remove them later with --cleanup)"),
  cleanup: setting(z.boolean(), false, "only remove what an earlier --keep left and exit"),
  json: setting(z.boolean(), false, "print the summary as JSON on stdout"),
};
export type KubePlayConfig = Values<typeof KUBE_PLAY_SETTINGS>;

export class KubePlayError extends Error {
  override name = "KubePlayError";
}

const PREFIX = "grpomesh-play";
const NETWORK = `${PREFIX}-net`;
const VOLUME_PREFIX = `${PREFIX}-`;
const PLAY_LABEL = "grpomesh.io/kube-play";
const IMAGES = ["judge", "policy", "reference", "orchestrator"].map((s) => `grpomesh/${s}:0.1.0`);
/** podman on a host whose cgroups are in hybrid mode, and whose container limits are tight (the project's machines): runc, explicit ulimits. */
const CONTAINERS_CONF = `[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n`;

interface Ctx {
  dir: string;
  env: NodeJS.ProcessEnv;
  say: (line: string) => void;
  /** The units playing now (their pods exist), for the logs of a failed run and --keep's message. */
  played: PlayUnit[];
  secrets: Map<string, K8sObject>;
  /** One file per ConfigMap (podman kube play --configmap reads one object from each). */
  configMapFiles: string[];
}

/** A folder for this run's files with the containers.conf podman needs here, and the env that points podman at it. */
function podmanEnv(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}-`));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "containers.conf"), CONTAINERS_CONF);
  return { dir, env: { ...process.env, CONTAINERS_CONF: join(dir, "containers.conf") } };
}

function podman(ctx: Pick<Ctx, "env">, args: string[], allowFail = false): string {
  const r = spawnSync("podman", args, { env: ctx.env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 && !allowFail)
    throw new KubePlayError(`podman ${args.slice(0, 4).join(" ")} … failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/** Set by Ctrl-C or SIGTERM: every wait then fails, and the run's cleanup removes what it made. */
let interrupted = "";
const sleep = async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  if (interrupted) throw new KubePlayError(`${interrupted}: stopping`);
};

/** The pod and first container names podman gives a unit. */
function podOf(unit: PlayUnit): string {
  return unit.kind === "Deployment" ? `${unit.name}-pod-0` : unit.name;
}
function containerOf(unit: PlayUnit): string {
  const spec = (unit.object.spec as { template?: { spec?: unknown } }).template?.spec ?? unit.object.spec;
  return `${podOf(unit)}-${(spec as { containers: Array<{ name: string }> }).containers[0]!.name}`;
}

/** Writes a unit's Secret files (with the pod's modes, owned by the pod's uid) and plays it. */
function play(ctx: Ctx, unit: PlayUnit): void {
  for (const m of unit.secretMounts) {
    const secret = ctx.secrets.get(m.secretName);
    if (!secret) throw new KubePlayError(`${unit.source} mounts Secret ${m.secretName}, which make-secrets does not make`);
    mkdirSync(m.dir, { recursive: true });
    const items = m.items.length ? m.items : Object.keys(secret.data ?? {}).map((k) => ({ key: k, path: k }));
    for (const i of items) {
      const file = join(m.dir, i.path);
      writeFileSync(file, secretData(secret, i.key) ?? "");
      chmodSync(file, m.mode);
      chownSync(file, 1000, 1000);
    }
    chownSync(m.dir, 1000, 1000);
  }
  // The label --cleanup finds our pods by.
  const object = structuredClone(unit.object);
  for (const meta of [object.metadata, (object.spec as { template?: { metadata?: K8sObject["metadata"] } }).template?.metadata])
    if (meta) meta.labels = { ...meta.labels, [PLAY_LABEL]: "true" };
  const file = join(ctx.dir, `${unit.name}.yaml`);
  writeFileSync(file, stringify(object, { lineWidth: 0 }));
  const network = unit.aliases.length ? `${NETWORK}:${unit.aliases.map((a) => `alias=${a}`).join(",")}` : NETWORK;
  ctx.say(
    `play ${unit.source}${unit.name !== unit.source.split("/")[1] ? ` as ${unit.name}` : ""}${unit.aliases.length ? ` (aliases ${unit.aliases.filter((a) => !a.includes(".")).join(", ")})` : ""}`,
  );
  ctx.played.push(unit);
  podman(ctx, ["kube", "play", "--network", network, ...ctx.configMapFiles.flatMap((f) => ["--configmap", f]), file]);
}

/** "running 0", "exited 3"; "" when the container does not exist. */
function stateOf(ctx: Pick<Ctx, "env">, container: string): string {
  return podman(ctx, ["inspect", container, "--format", "{{.State.Status}} {{.State.ExitCode}}"], true).trim();
}

/** Runs a container's readiness probe command (as the kubelet would) until it passes. */
async function waitReady(ctx: Ctx, unit: PlayUnit, timeoutMs: number): Promise<number> {
  const spec = (unit.object.spec as { template: { spec: { containers: Array<{ readinessProbe?: { exec?: { command?: string[] } } }> } } }).template.spec;
  const probe = spec.containers[0]!.readinessProbe?.exec?.command;
  const started = Date.now();
  for (;;) {
    const state = stateOf(ctx, containerOf(unit));
    if (state.startsWith("exited"))
      throw new KubePlayError(`${unit.name} exited (${state}) before it was ready:\n${podman(ctx, ["logs", "--tail", "30", containerOf(unit)], true)}`);
    if (probe && spawnSync("podman", ["exec", containerOf(unit), ...probe], { env: ctx.env, stdio: "ignore" }).status === 0) return Date.now() - started;
    if (!probe && state.startsWith("running")) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new KubePlayError(`${unit.name} was not ready after ${timeoutMs / 1000} s:\n${podman(ctx, ["logs", "--tail", "30", containerOf(unit)], true)}`);
    await sleep(1000);
  }
}

/**
 * Waits for a Job's pod to end; returns its exit code and its main container's log (podman removes
 * init containers once they have run, and their logs with them: a failed init container shows as
 * the pod never starting its main container).
 */
async function waitExit(ctx: Ctx, unit: PlayUnit, timeoutMs: number): Promise<{ code: number; log: string }> {
  const started = Date.now();
  for (;;) {
    const state = stateOf(ctx, containerOf(unit));
    if (!state) throw new KubePlayError(`${containerOf(unit)} is gone (removed from outside this run?)`);
    if (state.startsWith("exited")) return { code: Number(state.split(" ")[1]), log: podman(ctx, ["logs", containerOf(unit)], true) };
    if (Date.now() - started > timeoutMs) throw new KubePlayError(`${unit.name} did not finish within ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

/** Stops a pod as the kubelet would: the preStop hook, then SIGTERM with the grace period. */
function stopPod(ctx: Ctx, unit: PlayUnit): void {
  const spec = (
    unit.object.spec as {
      template: { spec: { terminationGracePeriodSeconds?: number; containers: Array<{ lifecycle?: { preStop?: { exec?: { command?: string[] } } } }> } };
    }
  ).template.spec;
  const preStop = spec.containers[0]!.lifecycle?.preStop?.exec?.command;
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (preStop) spawnSync("podman", ["exec", containerOf(unit), ...preStop], { env: ctx.env, stdio: "ignore", timeout: grace * 1000 });
  podman(ctx, ["pod", "stop", "-t", String(grace), podOf(unit)], true);
  podman(ctx, ["pod", "rm", "-f", podOf(unit)], true);
  ctx.played = ctx.played.filter((u) => u !== unit);
}

/** The step records of a run's log so far (a line being written is left for the next read). */
function stepRecords(path: string): Array<{ step: number; judge_version: string }> {
  return readLog(path).records.filter((r) => r.type === "step") as unknown as Array<{ step: number; judge_version: string }>;
}

/** Per-container CPU and memory, sampled from `podman stats`. */
interface Usage {
  samples: number;
  cpuSum: number;
  cpuMax: number;
  memMax: number;
}

/** "12.5%" → 12.5 (podman stats' CPU); NaN otherwise. */
export function parsePercent(v: string): number {
  const m = /^([\d.]+)%$/.exec(v.trim());
  return m ? Number(m[1]) : NaN;
}

function sampleStats(ctx: Ctx, usage: Map<string, Usage>): void {
  const out = podman(ctx, ["stats", "--no-stream", "--format", "json"], true);
  let rows: Array<Record<string, string>> = [];
  try {
    rows = JSON.parse(out) as Array<Record<string, string>>;
  } catch {
    return;
  }
  for (const r of rows) {
    const name = r.name ?? r.Name ?? "";
    if (!name || name.endsWith("-infra")) continue;
    const cpu = parsePercent(String(r.cpu_percent ?? ""));
    const mem = parseBytes(String(r.mem_usage ?? "").split("/")[0] ?? "");
    // A container that has exited reports no memory: nothing to sample.
    if (!Number.isFinite(cpu) || !Number.isFinite(mem) || mem === 0) continue;
    const u = usage.get(name) ?? { samples: 0, cpuSum: 0, cpuMax: 0, memMax: 0 };
    u.samples++;
    u.cpuSum += cpu;
    u.cpuMax = Math.max(u.cpuMax, cpu);
    u.memMax = Math.max(u.memMax, mem);
    usage.set(name, u);
  }
}

const parseObjects = (text: string, file: string): K8sObject[] => parseYamlDocuments(text, file).map((d) => d.value as K8sObject);

/** Removes what a run made (at its end) or left (--keep, a killed run): the pods it labelled, its volumes, the network. */
function cleanup(ctx: Pick<Ctx, "env">, say: (l: string) => void): void {
  const pods = podman(ctx, ["pod", "ps", "--filter", `label=${PLAY_LABEL}=true`, "--format", "{{.Name}}"], true)
    .split("\n")
    .filter(Boolean);
  for (const p of pods) podman(ctx, ["pod", "rm", "-f", "-t", "5", p], true);
  const volumes = podman(ctx, ["volume", "ls", "--format", "{{.Name}}"], true)
    .split("\n")
    .filter((v) => v.startsWith(VOLUME_PREFIX));
  for (const v of volumes) podman(ctx, ["volume", "rm", "-f", v], true);
  podman(ctx, ["network", "rm", "-f", NETWORK], true);
  say(`removed ${pods.length} pod(s), ${volumes.length} volume(s) and network ${NETWORK}`);
}

export interface KubePlaySummary {
  overlay: string;
  steps: number;
  seconds: number;
  skipped: PodmanPlan["skipped"];
  swap: { at_step: number; version_before: string; version_after: string; first_step_with_new: number; job_seconds: number };
  scale: Array<{ replicas: number; at_step: number; joined_or_left: number }>;
  judge_versions_of_new_replicas: string[];
  usage: Array<{ container: string; cpu_mean_percent: number; cpu_max_percent: number; mem_max_mb: number }>;
}

/** The whole run; throws KubePlayError with the reason on any failure (after cleaning up). */
export async function kubePlay(cfg: KubePlayConfig, say: (l: string) => void): Promise<KubePlaySummary> {
  if (!hasCommand("podman")) throw new KubePlayError("podman is not installed: apt-get install -y podman (Debian)");
  const started = Date.now();
  const { dir, env } = podmanEnv();
  try {
    for (const image of IMAGES)
      if (spawnSync("podman", ["image", "exists", image], { env }).status !== 0)
        throw new KubePlayError(`image ${image} is not here: build the images first (npm run images)`);
    if (podman({ env }, ["network", "ls", "--format", "{{.Name}}"], true).split("\n").includes(NETWORK))
      throw new KubePlayError(`network ${NETWORK} exists: another kube-play runs, or one was kept (${COMMAND} --cleanup removes it)`);
    return await playAndCheck(cfg, { dir, env }, say, started);
  } finally {
    if (!cfg.keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function playAndCheck(
  cfg: KubePlayConfig,
  { dir, env }: { dir: string; env: NodeJS.ProcessEnv },
  say: (l: string) => void,
  started: number,
): Promise<KubePlaySummary> {
  // 1. Render, plan, and the pieces podman needs from us: run.json shortened, Secrets made.
  const rendered = parseObjects(renderKustomization(REPO_ROOT, `deploy/k8s/overlays/${cfg.overlay}`), `overlays/${cfg.overlay}`);
  const ops = ["deploy/k8s/ops/load-models.yaml", "deploy/k8s/ops/swap-judge.yaml"].flatMap((f) => parseObjects(readFileSync(join(REPO_ROOT, f), "utf8"), f));
  const namespace = rendered.find((o) => o.kind === "Namespace")?.metadata?.name ?? "grpomesh";
  for (const o of ops) o.metadata = { ...o.metadata, namespace };
  const plan = planForPodman([...rendered, ...ops], { volumePrefix: VOLUME_PREFIX, secretsDir: join(dir, "secrets") });
  const runConfig = plan.configMaps.find((c) => c.metadata?.name?.startsWith("run-config"));
  if (!runConfig?.data?.["run.json"]) throw new KubePlayError("the rendered overlay has no run-config ConfigMap with run.json");
  const runJson = JSON.parse(runConfig.data["run.json"]) as Record<string, unknown>;
  Object.assign(runJson, { max_iters: cfg.max_iters, eval_interval: 50, eval_batches: 1, sample_interval: 0, checkpoint_interval: 25, log_every: 10 });
  runConfig.data["run.json"] = JSON.stringify(runJson, null, 2);
  const configMapFiles = plan.configMaps.map((c) => {
    const file = join(dir, `configmap-${c.metadata?.name}.yaml`);
    writeFileSync(file, stringify({ ...c, metadata: { name: c.metadata?.name } }, { lineWidth: 0 }));
    return file;
  });
  const secrets = new Map((await makeClusterSecrets({ namespace })).secrets.map((s) => [s.metadata!.name!, s]));
  const ctx: Ctx = { dir, env, say, played: [], secrets, configMapFiles };
  say(`rendered deploy/k8s/overlays/${cfg.overlay}: ${rendered.length} objects; podman runs ${plan.units.map((u) => u.source).join(", ")}`);
  for (const s of plan.skipped) say(`  not applied: ${s.object} (${s.why})`);

  const unit = (pred: (u: PlayUnit) => boolean, what: string) => {
    const u = plan.units.find(pred);
    if (!u) throw new KubePlayError(`no ${what} in the plan`);
    return u;
  };
  const judge = unit((u) => u.kind === "Deployment" && u.labels["app.kubernetes.io/name"] === "judge", "judge Deployment");
  const policy = unit((u) => u.labels["app.kubernetes.io/name"] === "policy", "policy Deployment");
  const reference = unit((u) => u.labels["app.kubernetes.io/name"] === "reference", "reference Deployment");
  const orchestrator = unit((u) => u.kind === "Job" && u.labels["app.kubernetes.io/name"] === "orchestrator", "orchestrator Job");
  const loadModels = unit((u) => u.kind === "Job" && u.name.startsWith("load-models"), "load-models Job");
  const swapJob = unit((u) => u.kind === "Job" && u.name.startsWith("swap-judge"), "swap-judge Job");
  const run = orchestrator.labels["grpomesh.io/run"] ?? "";

  const usage = new Map<string, Usage>();
  let statsTimer: NodeJS.Timeout | undefined;
  let failed = true;
  try {
    podman(ctx, ["network", "create", NETWORK]);
    for (const v of Object.values(plan.volumes)) podman(ctx, ["volume", "create", "--label", `${PREFIX}=true`, v]);
    // The pods run as uid 1000 (podman has no fsGroup): the volumes are theirs.
    const mountpoint = (volume: string) => podman(ctx, ["volume", "inspect", volume, "--format", "{{.Mountpoint}}"]).trim();
    for (const v of Object.values(plan.volumes)) chownSync(mountpoint(v), 1000, 1000);
    const runsVolume = plan.volumes.runs;
    if (!runsVolume) throw new KubePlayError("the rendered overlay has no runs PersistentVolumeClaim");
    const runsDir = mountpoint(runsVolume);

    // 2. Models into the store (the load-models Job), then the fleet and the run's roles.
    play(ctx, loadModels);
    const loaded = await waitExit(ctx, loadModels, 300_000);
    if (loaded.code !== 0) throw new KubePlayError(`load-models exited ${loaded.code}:\n${loaded.log.slice(-2000)}`);
    say(`load-models: done (${loaded.log.trim().split("\n").at(-1)?.slice(0, 160)})`);
    statsTimer = setInterval(() => sampleStats(ctx, usage), 3000);
    for (const u of [judge, policy, reference]) play(ctx, u);
    for (const u of [judge, policy, reference]) say(`${u.name} ready in ${((await waitReady(ctx, u, 300_000)) / 1000).toFixed(1)} s`);
    play(ctx, orchestrator);

    // 3. While it trains: the swap, then 1 → N judges, then back to 1.
    const log = join(runsDir, run, LOG_FILE);
    const steps = () => stepRecords(log);
    const orchestratorLog = () => podman(ctx, ["logs", containerOf(orchestrator)], true);
    const deadline = started + cfg.timeout_s * 1000;
    const until = async (what: string, ok: () => boolean) => {
      while (!ok()) {
        if (stateOf(ctx, containerOf(orchestrator)).startsWith("exited"))
          throw new KubePlayError(`the orchestrator ended while waiting for ${what}:\n${orchestratorLog().split("\n").slice(-30).join("\n")}`);
        if (Date.now() > deadline) throw new KubePlayError(`--timeout_s=${cfg.timeout_s} passed while waiting for ${what}`);
        await sleep(500);
      }
    };
    await until(`step ${cfg.swap_at}`, () => steps().length >= cfg.swap_at);
    const versionBefore = steps().at(-1)?.judge_version ?? "";
    const swapStep = steps().length;
    say(`step ${swapStep}: judge ${versionBefore}; running the swap-judge Job`);
    const swapStarted = Date.now();
    play(ctx, swapJob);
    const swapped = await waitExit(ctx, swapJob, 300_000);
    if (swapped.code !== 0) throw new KubePlayError(`swap-judge exited ${swapped.code}:\n${swapped.log.slice(-3000)}`);
    const swapSeconds = (Date.now() - swapStarted) / 1000;
    say(
      `swap-judge: exit 0 in ${swapSeconds.toFixed(1)} s:\n${swapped.log
        .trim()
        .split("\n")
        .slice(-6)
        .map((l) => `    ${l}`)
        .join("\n")}`,
    );
    await until("a step scored by the new judge", () => (steps().at(-1)?.judge_version ?? versionBefore) !== versionBefore);
    const versionAfter = steps().at(-1)!.judge_version!;
    const firstNew = steps().find((r) => r.judge_version === versionAfter)!.step;

    const count = (re: RegExp) => (orchestratorLog().match(re) ?? []).length;
    const scale: KubePlaySummary["scale"] = [];
    const extra = Array.from({ length: cfg.judges_max - 1 }, (_, i) => replicaOf(judge, i + 2));
    say(`step ${steps().length}: scaling judges 1 → ${cfg.judges_max}`);
    for (const u of extra) play(ctx, u);
    for (const u of extra) await waitReady(ctx, u, 300_000);
    await until(`${extra.length} judges joining the orchestrator's fleet`, () => count(/judge replica \S+ joined the fleet/g) >= extra.length);
    scale.push({ replicas: cfg.judges_max, at_step: steps().length, joined_or_left: count(/judge replica \S+ joined the fleet/g) });
    // Replicas start on the ConfigMap's model; the orchestrator brings each to the fleet's (swapped) one before it gets work.
    await until(
      `the new judges loading ${versionAfter}`,
      () => [...orchestratorLog().matchAll(/judge replica \S+: loaded the fleet's model (\S+)/g)].length >= extra.length,
    );
    const newVersions = [...orchestratorLog().matchAll(/judge replica \S+: loaded the fleet's model (\S+)/g)].map((m) => m[1]!);
    if (newVersions.some((v) => v !== versionAfter))
      throw new KubePlayError(`joining judges loaded ${newVersions.join(", ")}; the fleet serves ${versionAfter}`);
    const holdFrom = steps().length;
    await until(`${cfg.hold_steps} steps with ${cfg.judges_max} judges`, () => steps().length >= holdFrom + cfg.hold_steps);
    say(`step ${steps().length}: scaling judges ${cfg.judges_max} → 1 (preStop, then SIGTERM)`);
    for (const u of [...extra].reverse()) stopPod(ctx, u);
    await until(`${extra.length} judges leaving the orchestrator's fleet`, () => count(/judge replica \S+ left the fleet/g) >= extra.length);
    scale.push({ replicas: 1, at_step: steps().length, joined_or_left: count(/judge replica \S+ left the fleet/g) });
    say(`step ${steps().length}: ${extra.length} judges left the fleet; training to step ${cfg.max_iters}`);

    // 4. The run ends by itself; every step exactly once.
    const ended = await waitExit(ctx, orchestrator, Math.max(1000, deadline - Date.now()));
    if (ended.code !== 0) throw new KubePlayError(`the orchestrator exited ${ended.code}:\n${ended.log.split("\n").slice(-30).join("\n")}`);
    const all = steps();
    const numbers = all.map((r) => r.step);
    const expected = Array.from({ length: cfg.max_iters }, (_, i) => i + 1);
    if (numbers.join(",") !== expected.join(","))
      throw new KubePlayError(`steps in log.jsonl are ${numbers.length} (${numbers.slice(0, 5).join(",")}…), expected 1..${cfg.max_iters} once each`);
    say(`the orchestrator finished: ${all.length} steps, exit 0`);
    failed = false;
    return {
      overlay: cfg.overlay,
      steps: all.length,
      seconds: (Date.now() - started) / 1000,
      skipped: plan.skipped,
      swap: { at_step: swapStep, version_before: versionBefore, version_after: versionAfter, first_step_with_new: firstNew, job_seconds: swapSeconds },
      scale,
      judge_versions_of_new_replicas: newVersions,
      usage: [...usage.entries()].map(([container, u]) => ({
        container,
        cpu_mean_percent: u.cpuSum / u.samples,
        cpu_max_percent: u.cpuMax,
        mem_max_mb: u.memMax / 1e6,
      })),
    };
  } finally {
    if (statsTimer) clearInterval(statsTimer);
    if (cfg.keep) say(`kept pods ${ctx.played.map(podOf).join(", ")}, volumes and network ${NETWORK} (${COMMAND} --cleanup removes them); files in ${dir}`);
    else {
      if (failed)
        for (const u of ctx.played) say(`--- ${containerOf(u)}: last lines\n${podman(ctx, ["logs", "--tail", "15", containerOf(u)], true) || "(nothing)"}`);
      cleanup(ctx, say);
    }
  }
}

/** The command line; returns the exit code. */
export async function kubePlayMain(argv: string[], log = console.log, error = console.error): Promise<number> {
  const { config: cfg } = parseCommandLine(KUBE_PLAY_SETTINGS, COMMAND, { argv });
  const say = (l: string) => error(`kube-play: ${l}`);
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => (interrupted = sig));
  if (cfg.cleanup) {
    const { dir, env } = podmanEnv();
    cleanup({ env }, say);
    rmSync(dir, { recursive: true, force: true });
    return 0;
  }
  try {
    const s = await kubePlay(cfg, say);
    if (cfg.json) log(JSON.stringify(s, null, 2));
    else {
      log(`\nkube-play: PASS — overlay ${s.overlay}, ${s.steps} steps in ${s.seconds.toFixed(0)} s`);
      log(
        `  swap: after step ${s.swap.at_step}, ${s.swap.version_before} → ${s.swap.version_after} (Job ${s.swap.job_seconds.toFixed(1)} s), first step scored by it: ${s.swap.first_step_with_new}`,
      );
      for (const x of s.scale) log(`  judges → ${x.replicas} at step ${x.at_step}`);
      log(`  replicas that joined loaded: ${s.judge_versions_of_new_replicas.join(", ") || "(none logged)"}`);
      log("  | container | CPU mean | CPU max | memory max |\n  |---|---|---|---|");
      for (const u of s.usage.sort((a, b) => a.container.localeCompare(b.container)))
        log(`  | ${u.container} | ${u.cpu_mean_percent.toFixed(0)}% | ${u.cpu_max_percent.toFixed(0)}% | ${u.mem_max_mb.toFixed(0)} MB |`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof KubePlayError)) throw err;
    error(`kube-play: FAIL: ${err.message}`);
    return 1;
  }
}
