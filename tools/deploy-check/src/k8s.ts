// The Kubernetes manifests: how the checks find workloads, Services and ports, and the port check
// of our own (the schema of every object is checkSchemas' in schema.ts; what the API server refuses
// by itself, such as names, selectors or restart policies, is left to it).
import { join, normalize } from "node:path";
import { where, PATHS, type DeployBundle, type Manifest } from "./bundle.ts";
import type { Container, ContainerPort, K8sObject, LabelSelector, Labels, PodTemplate } from "./k8s-types.ts";
import { checkSchemas } from "./schema.ts";

/** Manifests under deploy/k8s/ops are applied by hand when needed, not by the kustomization. */
export const ON_DEMAND_DIR = `${PATHS.k8s}/ops/`;

export interface Workload {
  m: Manifest;
  namespace: string;
  /** The pod template (a Pod's own metadata and spec for kind Pod). */
  pod: PodTemplate;
}

/** The kustomization that lists a file, if any. */
function kustomizationOf(bundle: DeployBundle, file: string) {
  return bundle.kustomizations.find((k) => (k.value.resources ?? []).some((r) => normalize(join(k.dir, r)) === file));
}

/** The namespace an object lands in: its own, else its kustomization's, else "default". */
export function namespaceOf(bundle: DeployBundle, m: Manifest): string {
  return kustomizationOf(bundle, m.file)?.value.namespace ?? m.obj.metadata?.namespace ?? "default";
}

export function workloads(bundle: DeployBundle): Workload[] {
  const out: Workload[] = [];
  for (const m of bundle.manifests) {
    const kind = m.obj.kind;
    if (kind === "Deployment" || kind === "Job" || kind === "StatefulSet" || kind === "DaemonSet") {
      out.push({ m, namespace: namespaceOf(bundle, m), pod: m.obj.spec?.template ?? {} });
    } else if (kind === "Pod") {
      out.push({ m, namespace: namespaceOf(bundle, m), pod: { metadata: m.obj.metadata, spec: m.obj.spec } });
    }
  }
  return out;
}

export function objectsOfKind(bundle: DeployBundle, kind: string): Manifest[] {
  return bundle.manifests.filter((m) => m.obj.kind === kind);
}

export function findObject(bundle: DeployBundle, kind: string, name: string, namespace: string): Manifest | undefined {
  return bundle.manifests.find((m) => m.obj.kind === kind && m.obj.metadata?.name === name && namespaceOf(bundle, m) === namespace);
}

export function containersOf(pod: PodTemplate): Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

/** A Service's selector (a plain label map). */
export function serviceSelector(svc: K8sObject): Labels {
  return (svc.spec?.selector ?? {}) as Labels;
}

/** A Deployment's, PDB's or ServiceMonitor's LabelSelector. */
export function labelSelector(obj: K8sObject): LabelSelector {
  return (obj.spec?.selector ?? {}) as LabelSelector;
}

/**
 * Whether labels satisfy a LabelSelector's matchLabels and matchExpressions. An empty selector
 * selects everything in a NetworkPolicy (`emptyMatchesAll`); elsewhere here it is a mistake, never "everything".
 */
export function selectorMatches(selector: LabelSelector | undefined, labels: Labels | undefined, emptyMatchesAll = false): boolean {
  const l = labels ?? {};
  if (!selector || (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0)) return emptyMatchesAll;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const key = e.key ?? "";
    const has = key in l;
    const inValues = has && (e.values ?? []).includes(l[key]!);
    if (e.operator === "In" && !inValues) return false;
    if (e.operator === "NotIn" && inValues) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

export function serviceSelects(svc: K8sObject, labels: Labels | undefined): boolean {
  return selectorMatches({ matchLabels: serviceSelector(svc) }, labels);
}

/** The workloads (in the Service's namespace) whose pods a Service selects. */
export function selectedWorkloads(bundle: DeployBundle, svc: Manifest): Workload[] {
  const ns = namespaceOf(bundle, svc);
  return workloads(bundle).filter((w) => w.namespace === ns && serviceSelects(svc.obj, w.pod.metadata?.labels));
}

/** The container port a Service targetPort or probe port refers to (by name or number). */
export function resolveContainerPort(pod: PodTemplate, ref: number | string | undefined): { container: Container; port: ContainerPort } | undefined {
  for (const container of pod.spec?.containers ?? []) {
    for (const port of container.ports ?? []) {
      if (typeof ref === "number" ? port.containerPort === ref : port.name === ref) return { container, port };
    }
  }
  return undefined;
}

/** The container port behind a Service port: targetPort, or the port number itself when unset. */
export function servicePortTarget(pod: PodTemplate, sp: { port?: number; targetPort?: number | string }) {
  return resolveContainerPort(pod, sp.targetPort ?? sp.port);
}

// ---------------------------------------------------------------- checks

/** "grpomesh/judge:0.1.0" → "grpomesh/judge" (tag and digest dropped). */
export function imageName(image: string): string {
  const noDigest = image.split("@")[0]!;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Every Service port and every probe reaches a port its pods' containers declare (by name or number). */
export function checkPorts(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  for (const svc of objectsOfKind(bundle, "Service")) {
    const selected = selectedWorkloads(bundle, svc);
    if (selected.length === 0)
      problems.push(
        `${where(svc)}: selector ${JSON.stringify(serviceSelector(svc.obj))} matches the pods of no workload in namespace ${namespaceOf(bundle, svc)}`,
      );
    for (const sp of svc.obj.spec?.ports ?? [])
      for (const w of selected)
        if (!servicePortTarget(w.pod, sp))
          problems.push(`${where(svc)}: port ${sp.name ?? sp.port} targets ${sp.targetPort ?? sp.port}, which ${where(w.m)}'s containers do not declare`);
  }
  for (const w of workloads(bundle)) {
    for (const c of containersOf(w.pod)) {
      for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"] as const) {
        const probe = c[kind];
        const ref = probe?.grpc?.port ?? probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (ref !== undefined && !(c.ports ?? []).some((p) => (typeof ref === "number" ? p.containerPort === ref : p.name === ref)))
          problems.push(
            `${where(w.m)} container ${c.name}: ${kind} probes port ${ref}, which the container does not declare (ports: ${(c.ports ?? []).map((p) => `${p.name}=${p.containerPort}`).join(", ") || "none"})`,
          );
      }
    }
  }
  return problems;
}

export const MANIFEST_CHECKS = { checkSchemas, checkPorts };
