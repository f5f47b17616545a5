// The Kubernetes manifests: how the checks find workloads, Services and ports, and the port check
// of our own (the schema of every object is checkSchemas' in schema.ts; what the API server refuses
// by itself, such as names, selectors or restart policies, is left to it).
import { where, PATHS, type DeployBundle, type Manifest } from "./bundle.ts";
import type { IServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import type { IDeploymentSpec } from "kubernetes-models/apps/v1/DeploymentSpec";
import type { IHorizontalPodAutoscalerSpec } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerSpec";
import type { IJobSpec } from "kubernetes-models/batch/v1/JobSpec";
import type { INetworkPolicyPeer } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer";
import type { INetworkPolicyPort } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort";
import type { INetworkPolicySpec } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec";
import type { IPodDisruptionBudgetSpec } from "kubernetes-models/policy/v1/PodDisruptionBudgetSpec";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IContainerPort } from "kubernetes-models/v1/ContainerPort";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IPersistentVolumeClaimSpec } from "kubernetes-models/v1/PersistentVolumeClaimSpec";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IServicePort } from "kubernetes-models/v1/ServicePort";
import type { IServiceSpec } from "kubernetes-models/v1/ServiceSpec";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import { checkSchemas } from "./schema.ts";

// The objects the checks read, typed by kubernetes-models (so `tsc --strict` refuses a misspelled
// field in the checks themselves), every field optional: the manifests are untrusted input.
/** T with every field optional, all the way down. */
type Loose<T> =
  T extends ReadonlyArray<infer U>
    ? Array<Loose<U>>
    : T extends object
      ? string extends keyof T
        ? { [K in keyof T]: Loose<T[K]> } // a map (labels, data, quantities): its values stay as they are
        : { [K in keyof T]?: Loose<T[K]> }
      : T;

export type Labels = Record<string, string>;
export type LabelSelector = Loose<NonNullable<IDeploymentSpec["selector"]>>;
type ObjectMeta = Loose<NonNullable<IPodTemplateSpec["metadata"]>>;
export type ContainerPort = Loose<IContainerPort>;
export type Probe = Loose<IProbe>;
type EnvVar = Loose<IEnvVar>;
export type VolumeMount = Loose<IVolumeMount>;
export type Container = Loose<IContainer>;
export type Volume = Loose<IVolume>;
type PodSpec = Loose<IPodSpec>;
export type PodTemplate = Loose<IPodTemplateSpec>;
type ServicePort = Loose<IServicePort>;
export type NetworkPolicyPeer = Loose<INetworkPolicyPeer>;
export type NetworkPolicyPort = Loose<INetworkPolicyPort>;
/** An ingress rule (from) or an egress rule (to). */
interface NetworkPolicyRule {
  from?: NetworkPolicyPeer[];
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

/** The spec fields of every kind the manifests hold, merged (a check reads those of its kind). */
type Spec = Loose<
  Omit<IDeploymentSpec, "selector"> &
    Omit<IJobSpec, "selector" | "template"> &
    Omit<IServiceSpec, "selector" | "ports"> &
    Omit<IPodDisruptionBudgetSpec, "selector"> &
    IHorizontalPodAutoscalerSpec &
    Omit<IPersistentVolumeClaimSpec, "selector" | "resources"> &
    Omit<INetworkPolicySpec, "ingress" | "egress"> &
    Omit<IServiceMonitor["spec"], "selector"> &
    Omit<IPodSpec, "resources">
> & {
  /** A label map on Services, a LabelSelector elsewhere: read it with serviceSelector / labelSelector. */
  selector?: Record<string, unknown>;
  ports?: ServicePort[];
  ingress?: NetworkPolicyRule[];
  egress?: NetworkPolicyRule[];
};

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: Spec;
  /** ConfigMap, Secret */
  data?: Record<string, string>;
  /** Secret */
  type?: string;
  /** ServiceAccount */
  automountServiceAccountToken?: boolean;
}

/** Manifests under deploy/k8s/ops are applied by hand when needed, not by the kustomization. */
export const ON_DEMAND_DIR = `${PATHS.k8s}/ops/`;

export interface Workload {
  m: Manifest;
  namespace: string;
  /** The pod template (a Pod's own metadata and spec for kind Pod). */
  pod: PodTemplate;
}

/** The namespace an object lands in: its own (kustomize sets it on every namespaced object), else "default". */
export function namespaceOf(m: Manifest): string {
  return m.obj.metadata?.namespace ?? "default";
}

export function workloads(bundle: DeployBundle): Workload[] {
  const out: Workload[] = [];
  for (const m of bundle.manifests) {
    const kind = m.obj.kind;
    if (kind === "Deployment" || kind === "Job" || kind === "StatefulSet" || kind === "DaemonSet") {
      out.push({ m, namespace: namespaceOf(m), pod: m.obj.spec?.template ?? {} });
    } else if (kind === "Pod") {
      out.push({ m, namespace: namespaceOf(m), pod: { metadata: m.obj.metadata, spec: m.obj.spec } });
    }
  }
  return out;
}

export function objectsOfKind(bundle: DeployBundle, kind: string): Manifest[] {
  return bundle.manifests.filter((m) => m.obj.kind === kind);
}

export function findObject(bundle: DeployBundle, kind: string, name: string, namespace: string): Manifest | undefined {
  return bundle.manifests.find((m) => m.obj.kind === kind && m.obj.metadata?.name === name && namespaceOf(m) === namespace);
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
  const ns = namespaceOf(svc);
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
      problems.push(`${where(svc)}: selector ${JSON.stringify(serviceSelector(svc.obj))} matches the pods of no workload in namespace ${namespaceOf(svc)}`);
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

const RESTRICTED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
export const POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce";

/**
 * Pod Security "restricted": every namespace our workloads land in enforces it (so the cluster
 * refuses a pod that loosens it), and every pod template passes it here already, offline — the
 * profile's rules that a manifest alone decides.
 */
export function checkPodSecurity(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  for (const ns of new Set(workloads(bundle).map((w) => w.namespace))) {
    const m = objectsOfKind(bundle, "Namespace").find((n) => n.obj.metadata?.name === ns);
    const level = m?.obj.metadata?.labels?.[POD_SECURITY_LABEL];
    if (level !== "restricted")
      problems.push(`Namespace/${ns}: label ${POD_SECURITY_LABEL} is ${level ?? "missing"}; expected restricted, so the cluster enforces what is checked here`);
  }
  for (const w of workloads(bundle)) {
    const spec = w.pod.spec ?? {};
    const bad = (what: string) => problems.push(`${where(w.m)}: ${what} (Pod Security "restricted")`);
    for (const host of ["hostNetwork", "hostPID", "hostIPC"] as const) if (spec[host]) bad(`${host} is true`);
    for (const v of spec.volumes ?? []) {
      const type = Object.keys(v).find((k) => k !== "name");
      if (!RESTRICTED_VOLUMES.includes(type ?? "")) bad(`volume ${v.name} is of type ${type}; allowed: ${RESTRICTED_VOLUMES.join(", ")}`);
    }
    const pod = spec.securityContext ?? {};
    for (const c of containersOf(w.pod)) {
      const sc = c.securityContext ?? {};
      const at = `container ${c.name}`;
      if (!(sc.runAsNonRoot ?? pod.runAsNonRoot)) bad(`${at} may run as root: set runAsNonRoot: true`);
      if ((sc.runAsUser ?? pod.runAsUser) === 0) bad(`${at} runs as uid 0`);
      const seccomp = (sc.seccompProfile ?? pod.seccompProfile)?.type;
      if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") bad(`${at} has seccompProfile ${seccomp ?? "unset"}; expected RuntimeDefault`);
      if (sc.privileged) bad(`${at} is privileged`);
      if (sc.allowPrivilegeEscalation !== false) bad(`${at} does not set allowPrivilegeEscalation: false`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) bad(`${at} does not drop ALL capabilities`);
      for (const cap of sc.capabilities?.add ?? []) if (cap !== "NET_BIND_SERVICE") bad(`${at} adds capability ${cap}`);
    }
  }
  return problems;
}

export const MANIFEST_CHECKS = { checkSchemas, checkPorts, checkPodSecurity };
