// One command per training run: deploy/scripts/new-run.ts writes a kustomization folder for a run
// NAME — the run component (deploy/k8s/components/run) named -NAME and labelled
// grpomesh.io/run=NAME, the components of its variant, and its own run.json (the component's, with
// --set key=value on top, checked by the orchestrator's own settings table) — that
// `kubectl apply -k` applies beside the namespace's shared objects (an overlay).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { ConfigError, parseSettings, setting, usage, z, type Values } from "@grpomesh/config";
import { ORCHESTRATOR_SETTINGS, orchestratorRelations } from "@grpomesh/orchestrator/settings";
import { PATHS, parseYamlDocuments, REPO_ROOT } from "./bundle.ts";
import type { K8sObject } from "./k8s.ts";

export const COMPONENTS = `${PATHS.k8s}/components`;
/** The run component's run.json: every run starts from it. */
const DEFAULT_RUN_JSON = `${COMPONENTS}/run/run.json`;
const ORCHESTRATOR_YAML = `${COMPONENTS}/run/orchestrator.yaml`;
/** The label every object of a run carries (selectors too), and the orchestrator reads its run from. */
export const RUN_LABEL = "grpomesh.io/run";
/** Where runs go unless --out says otherwise (git-ignored). */
export const DEFAULT_RUNS_DIR = "deploy/runs";
/** The longest object name of a run: its own judge fleet's headless Service, judge-headless-NAME (a Service name: ≤ 63). */
const LONGEST_PREFIX = "judge-headless-";

const VARIANTS = ["cpu", "gpu", "gpu-judges"] as const;

export const NEW_RUN_SETTINGS = {
  variant: setting(
    z.enum(VARIANTS),
    "cpu",
    "cpu: everything on CPU nodes; gpu: policy and reference on GPUs; gpu-judges: the run's own judges too (needs --own_judges)",
  ),
  own_judges: setting(
    z.boolean(),
    false,
    "a judge fleet of the run's own (judge-NAME, judge-headless-NAME, its HPA and PDB) instead of the namespace's shared one",
  ),
  nvidia_runtime: setting(z.boolean(), false, "runtimeClassName: nvidia on the run's GPU pods (clusters whose runtime is not NVIDIA's by default)"),
  namespace: setting(
    z.string().refine((v) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) && v.length <= 63, "a namespace name (a DNS label)"),
    "grpomesh",
    "the namespace the run goes to: the one the overlay with the shared objects was applied to",
  ),
  out: setting(z.string(), "", `the folder to write (new or empty); empty: ${DEFAULT_RUNS_DIR}/NAME`),
};
export type NewRunOptions = Values<typeof NEW_RUN_SETTINGS> & { name: string; set: string[] };

export const NEW_RUN_COMMAND = "node --import tsx deploy/scripts/new-run.ts";

/** Why NAME cannot name a run, or null. Its objects are NAME-suffixed Services, so NAME is a DNS-1035 label short enough for them. */
export function runNameProblem(name: string): string | null {
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name))
    return `run name ${JSON.stringify(name)} is not a DNS label starting with a letter (lower-case letters, digits and "-", e.g. grpo-2)`;
  if (LONGEST_PREFIX.length + name.length > 63)
    return `run name ${name} is ${name.length} characters; at most ${63 - LONGEST_PREFIX.length}, so that ${LONGEST_PREFIX}${name} is a valid Service name`;
  return null;
}

/** The flags the run component's Job passes itself: flags win over run.json, so --set of these would do nothing. */
function keysTheJobSets(root: string): Set<string> {
  const job = parseYamlDocuments(readFileSync(join(root, ORCHESTRATOR_YAML), "utf8"), ORCHESTRATOR_YAML)
    .map((d) => d.value as K8sObject)
    .find((o) => o.kind === "Job");
  const args = job?.spec?.template?.spec?.containers?.[0]?.args ?? [];
  return new Set(args.map((a) => /^--([a-z_-]+)=/.exec(a)?.[1]?.replace(/-/g, "_")).filter((k): k is string => !!k && k !== "config"));
}

/** The component's run.json with each `key=value` on top, every value parsed by the orchestrator's settings table, the whole checked with its relations. */
export function runConfig(root: string, set: readonly string[]): Record<string, unknown> {
  const config = JSON.parse(readFileSync(join(root, DEFAULT_RUN_JSON), "utf8")) as Record<string, unknown>;
  const fixed = keysTheJobSets(root);
  for (const pair of set) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new ConfigError(`--set ${pair}: expected key=value, a key of the orchestrator's settings (docs/configuration.md)`);
    const key = pair.slice(0, eq).replace(/-/g, "_");
    if (fixed.has(key))
      throw new ConfigError(
        `--set ${pair}: the run's Job passes --${key} itself (${ORCHESTRATOR_YAML}), and flags win over run.json; it is the run's own by construction`,
      );
    // The orchestrator's own parser: an unknown key or a bad value is refused as it would refuse it.
    try {
      config[key] = (parseSettings(ORCHESTRATOR_SETTINGS, { argv: [`--${key}=${pair.slice(eq + 1)}`] }).config as Record<string, unknown>)[key];
    } catch (err) {
      throw err instanceof ConfigError ? new ConfigError(`--set ${pair}: ${err.message.replace(/option --/g, "key ").replace(/--(\w+)\?/, "$1?")}`) : err;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "new-run-"));
  try {
    writeFileSync(join(dir, "run.json"), JSON.stringify(config));
    parseSettings(ORCHESTRATOR_SETTINGS, { argv: [`--config=${join(dir, "run.json")}`], check: orchestratorRelations });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return config;
}

/** The files of a run's folder, by relative path, for a folder at `outDir`. */
export function runFiles(root: string, outDir: string, o: NewRunOptions): Record<string, string> {
  const problem = runNameProblem(o.name);
  if (problem) throw new ConfigError(problem);
  if (o.variant === "gpu-judges" && !o.own_judges)
    throw new ConfigError(
      "--variant=gpu-judges puts the run's own judges on GPUs, and this run uses the namespace's shared fleet: add --own_judges, or use --variant=gpu (where the shared judges run is the overlay's choice: deploy/k8s/overlays/gpu-judges)",
    );
  if (o.nvidia_runtime && o.variant === "cpu")
    throw new ConfigError("--nvidia_runtime sets the runtime of GPU pods, and --variant=cpu has none; add --variant=gpu");
  const config = runConfig(root, o.set);
  const component = (name: string) =>
    relative(outDir, join(root, COMPONENTS, name))
      .split(sep)
      .join("/");
  const components = [
    "run",
    ...(o.own_judges ? ["own-judges"] : []),
    ...(o.variant !== "cpu" ? ["gpu"] : []),
    ...(o.variant === "gpu-judges" ? ["gpu-judges"] : []),
    ...(o.nvidia_runtime ? ["nvidia-runtime"] : []),
    "images",
  ];
  const judges = o.own_judges ? `its own judges (judge-${o.name}, judge-headless-${o.name})` : "the namespace's shared judges (judge-headless)";
  const kustomization = [
    `# Training run ${o.name}: variant ${o.variant}, ${judges}${o.nvidia_runtime ? ", runtimeClassName nvidia" : ""}.`,
    `# Made by deploy/scripts/new-run.ts; apply beside the namespace's shared objects (an overlay):`,
    `#   kubectl apply -k ${relative(root, outDir).split(sep).join("/") || "."}`,
    `# Its objects are named -${o.name} and labelled ${RUN_LABEL}=${o.name}; its run directory is /runs/${o.name}.`,
    `# Hyperparameters: config/run.json (a change applies at the orchestrator's next start: delete its Job, apply again; it resumes).`,
    "apiVersion: kustomize.config.k8s.io/v1beta1",
    "kind: Kustomization",
    `namespace: ${o.namespace}`,
    "components:",
    ...components.map((c) => `  - ${component(c)}`),
    "  - config",
    `nameSuffix: -${o.name}`,
    "labels:",
    "  - pairs:",
    `      ${RUN_LABEL}: ${o.name}`,
    "    includeSelectors: true",
    "",
  ].join("\n");
  const configKustomization = [
    "# This run's run.json in place of the run component's (the same ConfigMap, run-config, merged).",
    "apiVersion: kustomize.config.k8s.io/v1alpha1",
    "kind: Component",
    "configMapGenerator:",
    "  - name: run-config",
    "    behavior: merge",
    "    files:",
    "      - run.json",
    "",
  ].join("\n");
  return {
    "kustomization.yaml": kustomization,
    "config/kustomization.yaml": configKustomization,
    "config/run.json": JSON.stringify(config, null, 2) + "\n",
  };
}

/** Writes a run's folder (new or empty); returns its absolute path. */
export function writeRun(root: string, o: NewRunOptions): string {
  const outDir = resolve(root, o.out || join(DEFAULT_RUNS_DIR, o.name));
  const files = runFiles(root, outDir, o);
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new Error(`${outDir} is not empty; give a new or empty --out folder (a run's folder is not overwritten: edit its config/run.json instead)`);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(outDir, rel, ".."), { recursive: true });
    writeFileSync(join(outDir, rel), text);
  }
  return outDir;
}

/** `--set key=value` and `--set=key=value`, taken out of argv (the settings table has no repeated flags). */
function takeSets(argv: readonly string[]): { rest: string[]; set: string[] } {
  const rest: string[] = [];
  const set: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--set") {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError("--set needs key=value after it");
      set.push(v);
    } else if (a.startsWith("--set=")) set.push(a.slice("--set=".length));
    else rest.push(a);
  }
  return { rest, set };
}

/** The command line of deploy/scripts/new-run.ts; returns the exit code. */
export function newRunMain(argv: string[], log: (line: string) => void = console.log, error: (line: string) => void = console.error, root = REPO_ROOT): number {
  const intro =
    "Writes a kustomization folder for one training run NAME: kubectl apply -k <folder>.\n  --set key=value   a key of the orchestrator's run.json (docs/configuration.md); repeatable";
  let o: NewRunOptions;
  try {
    const { rest, set } = takeSets(argv);
    const parsed = parseSettings(NEW_RUN_SETTINGS, { argv: rest, maxPositional: 1 });
    if (parsed.help) {
      log(usage(NEW_RUN_SETTINGS, `${NEW_RUN_COMMAND} NAME`, undefined, intro));
      return 0;
    }
    const name = parsed.positional[0];
    if (!name) throw new ConfigError("give the run's NAME (a DNS label, e.g. grpo-2)");
    o = { ...parsed.config, name, set };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    error(`new-run: ${err.message} (${NEW_RUN_COMMAND} --help lists every setting)`);
    return 2;
  }
  try {
    const dir = writeRun(root, o);
    const rel = relative(process.cwd(), dir) || ".";
    log(`new-run: ${o.name} (variant ${o.variant}, ${o.own_judges ? "its own judges" : "shared judges"}) in ${dir}`);
    log(`  kubectl apply -k ${rel}`);
    log(`  kubectl -n ${o.namespace} logs -f job/orchestrator-${o.name}`);
    return 0;
  } catch (err) {
    error(`new-run: ${(err as Error).message}`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
