// Everything under deploy/ that the checks read, loaded once into plain objects. Checks take a
// bundle and return problems, so a test can break a copy (a selector, a port) and see the check fail.
// The Kubernetes objects are what kustomize renders (kustomize.ts): an overlay, or an overlay and
// more runs, as `kubectl apply -k` would send them, plus the monitoring kustomization and the
// on-demand manifests under ops/.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { K8sObject } from "./k8s.ts";
import { renderKustomization, type Overlay } from "./kustomize.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

interface YamlDocument {
  /** Repository-relative path. */
  file: string;
  /** 0-based position of the document in its file. */
  index: number;
  value: unknown;
}

export interface Manifest {
  /** The kustomization that rendered it (repository-relative, or absolute outside the repository), or its plain file. */
  file: string;
  /** 0-based position in that rendering or file. */
  index: number;
  obj: K8sObject;
}

export interface DeployBundle {
  root: string;
  /** The kustomizations rendered into `manifests`, in order (the monitoring one last). */
  rendered: string[];
  /** Every Kubernetes object they render, and the on-demand manifests under deploy/k8s/ops. */
  manifests: Manifest[];
  /** deploy/prometheus/adapter-rules.yaml */
  adapterRules: unknown;
  dockerfile: { file: string; text: string };
  /** The locked version of each installed package (package-lock.json), by name. */
  lockedVersions: Record<string, string | undefined>;
}

export const PATHS = {
  k8s: "deploy/k8s",
  overlays: "deploy/k8s/overlays",
  monitoring: "deploy/k8s/monitoring",
  ops: "deploy/k8s/ops",
  adapterRules: "deploy/prometheus/adapter-rules.yaml",
  dockerfile: "deploy/images/Dockerfile",
} as const;

export class YamlError extends Error {
  override name = "YamlError";
}

/** Every document of a YAML text; a syntax error names the file, document and line. */
export function parseYamlDocuments(text: string, file: string): YamlDocument[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) throw new YamlError(`${file}: not a YAML stream`);
  const out: YamlDocument[] = [];
  docs.forEach((doc, index) => {
    if (doc.errors.length) throw new YamlError(`${file}: document ${index + 1} does not parse: ${doc.errors.map((e) => e.message).join("; ")}`);
    if (doc.warnings.length) throw new YamlError(`${file}: document ${index + 1}: ${doc.warnings.map((e) => e.message).join("; ")}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push({ file, index, value });
  });
  return out;
}

export function yamlFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const name of readdirSync(abs).sort()) {
      const path = join(abs, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(name)) out.push(relative(root, path));
    }
  };
  walk(join(root, dir));
  return out;
}

const read = (root: string, file: string) => {
  const path = join(root, file);
  if (!existsSync(path)) throw new Error(`${file} is missing; expected it under ${root}`);
  return readFileSync(path, "utf8");
};

function single(root: string, file: string): unknown {
  const docs = parseYamlDocuments(read(root, file), file);
  if (docs.length !== 1) throw new YamlError(`${file} holds ${docs.length} YAML documents; expected one`);
  return docs[0]!.value;
}

export const overlayDir = (variant: Overlay) => `${PATHS.overlays}/${variant}`;

const KUSTOMIZATION = /(^|\/)kustomization\.ya?ml$/;

/** The manifests under ops/: plain files, and folders with a kustomization rendered whole. */
function onDemandManifests(root: string): Manifest[] {
  if (!existsSync(join(root, PATHS.ops))) return [];
  const files = yamlFiles(root, PATHS.ops);
  const kustomized = files.filter((f) => KUSTOMIZATION.test(f)).map((f) => dirname(f));
  const out: Manifest[] = [];
  for (const dir of kustomized) out.push(...rendered(root, dir));
  for (const file of files.filter((f) => !kustomized.some((d) => f.startsWith(d + "/"))))
    for (const doc of parseYamlDocuments(read(root, file), file)) out.push({ file, index: doc.index, obj: doc.value as K8sObject });
  return out;
}

function rendered(root: string, dir: string): Manifest[] {
  return parseYamlDocuments(renderKustomization(root, dir), dir).map((doc) => ({ file: dir, index: doc.index, obj: doc.value as K8sObject }));
}

/**
 * Reads deploy/ from a repository checkout, the Kubernetes objects as kustomize renders
 * `kustomizations` (default: the cpu overlay) and deploy/k8s/monitoring. Throws on a file that is
 * missing or does not parse, and with kustomize's message when a kustomization does not render
 * (KustomizeError, also when no kubectl is at hand).
 */
export function loadBundle(root = REPO_ROOT, kustomizations: string[] = [overlayDir("cpu")]): DeployBundle {
  const dirs = [...kustomizations, PATHS.monitoring];
  const manifests = [...dirs.flatMap((dir) => rendered(root, dir)), ...onDemandManifests(root)];
  return { ...loadFiles(root), rendered: dirs, manifests };
}

/** The bundle's files that need no rendering (Dockerfile, adapter rules, lockfile), with no Kubernetes objects. */
export function loadFiles(root = REPO_ROOT): DeployBundle {
  return {
    root,
    rendered: [],
    manifests: [],
    adapterRules: single(root, PATHS.adapterRules),
    dockerfile: { file: PATHS.dockerfile, text: read(root, PATHS.dockerfile) },
    lockedVersions: Object.fromEntries(
      Object.entries((JSON.parse(read(root, "package-lock.json")) as { packages: Record<string, { version?: string }> }).packages).map(([path, p]) => [
        path.replace(/^node_modules\//, ""),
        p.version,
      ]),
    ),
  };
}

/** A deep copy to break in a test. */
export function cloneBundle(bundle: DeployBundle): DeployBundle {
  return structuredClone(bundle);
}

/** "deploy/k8s/overlays/cpu#12 Deployment/judge": where a problem is (the rendering and the object's place in it). */
export function where(m: Manifest): string {
  return `${m.file}#${m.index + 1} ${m.obj?.kind ?? "?"}/${m.obj?.metadata?.name ?? "?"}`;
}
