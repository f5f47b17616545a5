// Everything under deploy/ that the checks read, loaded once into plain objects. Checks take a
// bundle and return problems, so a test can break a copy (a selector, a port) and see the check fail.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { K8sObject } from "./k8s.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

interface YamlDocument {
  /** Repository-relative path. */
  file: string;
  /** 0-based position of the document in its file. */
  index: number;
  value: unknown;
}

export interface Manifest {
  file: string;
  index: number;
  obj: K8sObject;
}

interface Kustomization {
  file: string;
  /** Repository-relative folder of the kustomization. */
  dir: string;
  value: { namespace?: string; resources?: string[]; images?: Array<{ name?: string; newName?: string; newTag?: string }> };
}

export interface DeployBundle {
  root: string;
  /** Every Kubernetes object under deploy/k8s (kustomization files aside). */
  manifests: Manifest[];
  kustomizations: Kustomization[];
  /** deploy/prometheus/adapter-rules.yaml */
  adapterRules: unknown;
  dockerfile: { file: string; text: string };
  /** The locked version of each installed package (package-lock.json), by name. */
  lockedVersions: Record<string, string | undefined>;
}

export const PATHS = {
  k8s: "deploy/k8s",
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

/** Reads deploy/ from a repository checkout. Throws on a file that is missing or does not parse. */
export function loadBundle(root = REPO_ROOT): DeployBundle {
  const manifests: Manifest[] = [];
  const kustomizations: Kustomization[] = [];
  for (const file of yamlFiles(root, PATHS.k8s)) {
    for (const doc of parseYamlDocuments(read(root, file), file)) {
      if (/(^|\/)kustomization\.ya?ml$/.test(file)) {
        kustomizations.push({ file, dir: file.slice(0, file.lastIndexOf("/")), value: doc.value as Kustomization["value"] });
      } else {
        manifests.push({ file, index: doc.index, obj: doc.value as K8sObject });
      }
    }
  }
  return {
    root,
    manifests,
    kustomizations,
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

/** "deploy/k8s/judge.yaml#2 Deployment/judge": where a problem is. */
export function where(m: Manifest): string {
  return `${m.file}#${m.index + 1} ${m.obj?.kind ?? "?"}/${m.obj?.metadata?.name ?? "?"}`;
}
