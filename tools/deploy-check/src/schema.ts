// Schema validation of every Kubernetes object kustomize renders from deploy/k8s by `kubernetes-models` (the
// official OpenAPI schemas, compiled to validators, offline) and `@kubernetes-models/prometheus-operator`
// (the ServiceMonitor/PrometheusRule CRDs). The official schemas allow unknown fields (the API
// server drops them with a warning), so a misspelled field would pass; `strictFields` catches it:
// the compiled validator reads every property its schema defines, so a property of a typed object
// that the validator never read is not in the schema.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ErrorObject } from "ajv";
import { where, type DeployBundle, type Manifest } from "./bundle.ts";

const require = createRequire(import.meta.url);

/** The package that holds the models of each API group (the core group is ""). */
const GROUP_PACKAGES: Record<string, string> = { "monitoring.coreos.com": "@kubernetes-models/prometheus-operator" };
const DEFAULT_PACKAGE = "kubernetes-models";

interface ModelClass {
  apiVersion?: string;
  kind?: string;
  prototype: { validate(this: unknown): void };
}

const packageDirs = new Map<string, string>();
function packageDir(pkg: string): string {
  let dir = packageDirs.get(pkg);
  if (!dir) {
    dir = dirname(require.resolve(`${pkg}/package.json`));
    packageDirs.set(pkg, dir);
  }
  return dir;
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The folder of an API group's versions in its package (the core group's versions sit at the top). */
function groupDir(group: string): string {
  const dir = packageDir(GROUP_PACKAGES[group] ?? DEFAULT_PACKAGE);
  return group ? join(dir, group) : dir;
}

const SAFE = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;

/** The library's model of apiVersion/kind, if it has one. */
function modelOf(apiVersion: string, kind: string): ModelClass | undefined {
  const { group, version } = splitApiVersion(apiVersion);
  if (![version, kind].every((s) => SAFE.test(s)) || (group && !SAFE.test(group))) return undefined;
  const file = join(groupDir(group), version, `${kind}.js`);
  if (!existsSync(file)) return undefined;
  const model = (require(file) as Record<string, ModelClass | undefined>)[kind];
  // Component types (v1/Container) have files too; only top-level resources carry apiVersion/kind.
  return model && model.kind === kind && model.apiVersion === apiVersion ? model : undefined;
}

/** "/spec/template/spec/containers/0/ports/1" → "spec.template.spec.containers[0].ports[1]". */
function fieldPath(segments: ReadonlyArray<string | number>): string {
  return segments.map((s, i) => (typeof s === "number" || /^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join("") || "(the object)";
}

interface Tracked {
  path: Array<string | number>;
  value: Record<string, unknown>;
  read: Set<string>;
  enumerated: boolean;
}

/** Runs `validate` on a proxy of `value` that records which properties of which objects it reads. */
function trackReads(value: unknown, validate: (data: unknown) => void): Tracked[] {
  const tracked: Tracked[] = [];
  const proxies = new WeakMap<object, unknown>();
  const wrap = (v: unknown, path: Array<string | number>): unknown => {
    if (v === null || typeof v !== "object") return v;
    const cached = proxies.get(v);
    if (cached) return cached;
    const isArray = Array.isArray(v);
    const t: Tracked = { path, value: v as Record<string, unknown>, read: new Set(), enumerated: false };
    if (!isArray) tracked.push(t);
    const proxy = new Proxy(v, {
      get(target, key, receiver) {
        const got = Reflect.get(target, key, receiver);
        if (typeof key !== "string") return got;
        t.read.add(key);
        if (!Object.prototype.hasOwnProperty.call(target, key)) return got;
        return wrap(got, [...path, isArray && /^\d+$/.test(key) ? Number(key) : key]);
      },
      ownKeys(target) {
        t.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(v, proxy);
    return proxy;
  };
  validate(wrap(value, []));
  return tracked;
}

/** Problems of one object: the schema's (types, required fields, formats) and its unknown fields. */
export function validateObject(apiVersion: string, kind: string, value: unknown): string[] {
  const model = modelOf(apiVersion, kind);
  if (!model) throw new Error(`no model for ${apiVersion} ${kind}`);
  const problems: string[] = [];
  const tracked = trackReads(value, (data) => {
    try {
      model.prototype.validate.call(data);
    } catch (err) {
      const errors = (err as { errors?: ErrorObject[] }).errors;
      if (!errors) throw err;
      for (const e of errors) {
        const path = fieldPath(e.instancePath.split("/").slice(1));
        const params = e.params as { missingProperty?: string; allowedValues?: unknown[] };
        const detail =
          e.keyword === "required"
            ? `needs ${params.missingProperty}`
            : e.keyword === "enum"
              ? `must be one of ${JSON.stringify(params.allowedValues)}`
              : (e.message ?? e.keyword);
        problems.push(`${path} ${detail}`);
      }
    }
  });
  // (A property whose schema is empty, `{}`, is never read by ajv's compiled code and would be
  // reported: none of the kinds deploy/ uses has one today; the test on the repository shows it.)
  // An object the validator read no property of is free-form (a ConfigMap's data is enumerated,
  // a CRD's preserve-unknown-fields object is only type-checked): nothing to compare against.
  for (const t of tracked) {
    if (t.enumerated || t.read.size === 0) continue;
    for (const key of Object.keys(t.value)) {
      if (!t.read.has(key)) problems.push(`${fieldPath([...t.path, key])} is not a field of ${kind} ${apiVersion} (misspelled? the API server would drop it)`);
    }
  }
  return [...new Set(problems)];
}

/** Every object is a resource the libraries know, valid against its schema, with no unknown field. */
export function checkSchemas(bundle: DeployBundle): string[] {
  return bundle.manifests.flatMap(checkManifestSchema);
}

function checkManifestSchema(m: Manifest): string[] {
  const o = m.obj as unknown;
  if (o === null || typeof o !== "object" || Array.isArray(o)) {
    return [`${m.file}#${m.index + 1}: a document is not an object; expected a Kubernetes object with apiVersion, kind and metadata.name`];
  }
  const { apiVersion, kind } = m.obj;
  if (typeof apiVersion !== "string" || !apiVersion) return [`${where(m)}: no apiVersion`];
  if (typeof kind !== "string" || !kind) return [`${where(m)}: no kind`];
  if (!modelOf(apiVersion, kind))
    return [`${where(m)}: ${kind} ${apiVersion} is not a resource kubernetes-models or @kubernetes-models/prometheus-operator knows`];
  return validateObject(apiVersion, kind, m.obj).map((p) => `${where(m)}: ${p}`);
}
