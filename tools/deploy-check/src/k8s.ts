// Checks on the Kubernetes manifests by themselves: the schema of every object (by kubernetes-models,
// in schema.ts), then what the schemas cannot say: names, namespaces, kustomization, selectors,
// ports, volumes, claims and ConfigMaps, disruption budget and autoscaler. Each returns problems as
// sentences (empty: all good).
import { existsSync } from "node:fs";
import { join, normalize } from "node:path";
import { where, yamlFiles, PATHS, type DeployBundle, type Manifest } from "./bundle.ts";
import type { Container, ContainerPort, K8sObject, LabelSelector, Labels, PodTemplate } from "./k8s-types.ts";
import { checkSchemas } from "./schema.ts";

const CLUSTER_SCOPED = new Set(["Namespace"]);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

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

/** metadata.name, names, namespaces, duplicates (apiVersion, kind and fields: checkSchemas). */
export function checkObjects(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const namespaces = new Set(objectsOfKind(bundle, "Namespace").map((m) => m.obj.metadata?.name));
  for (const m of bundle.manifests) {
    const o = m.obj;
    if (o === null || typeof o !== "object" || Array.isArray(o) || !o.kind) continue; // checkSchemas reports it
    if (typeof o.metadata?.name !== "string" || !o.metadata.name) {
      problems.push(`${where(m)}: no metadata.name`);
      continue;
    }
    if (!DNS_LABEL.test(o.metadata.name) || o.metadata.name.length > 63) {
      problems.push(`${where(m)}: name ${JSON.stringify(o.metadata.name)} is not a DNS label (lower-case letters, digits, '-', at most 63 characters)`);
    }
    const ns = CLUSTER_SCOPED.has(o.kind) ? "" : namespaceOf(bundle, m);
    if (!CLUSTER_SCOPED.has(o.kind)) {
      const k = kustomizationOf(bundle, m.file);
      if (o.metadata.namespace && k?.value.namespace && o.metadata.namespace !== k.value.namespace) {
        problems.push(`${where(m)}: metadata.namespace is ${o.metadata.namespace} but ${k.file} sets namespace ${k.value.namespace}; make them agree`);
      }
      if (!namespaces.has(ns)) problems.push(`${where(m)}: namespace ${ns} is not created by any Namespace object under ${PATHS.k8s}`);
    }
    const key = `${o.kind}/${ns}/${o.metadata.name}`;
    if (seen.has(key)) problems.push(`${where(m)}: ${o.kind} ${o.metadata.name} is also defined in ${seen.get(key)}`);
    else seen.set(key, where(m));
  }
  return problems;
}

/** Listed resources exist; every manifest is listed (or on demand under ops/); images entries are used. */
export function checkKustomizations(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  if (!bundle.kustomizations.some((k) => k.dir === PATHS.k8s)) problems.push(`${PATHS.k8s}/kustomization.yaml is missing`);
  const listed = new Set<string>();
  for (const k of bundle.kustomizations) {
    for (const r of k.value.resources ?? []) {
      const path = normalize(join(k.dir, r));
      if (!existsSync(join(bundle.root, path))) problems.push(`${k.file}: resource ${r} does not exist (${path})`);
      listed.add(path);
    }
    const images = new Set(
      workloads(bundle)
        .filter((w) => kustomizationOf(bundle, w.m.file) === k)
        .flatMap((w) => containersOf(w.pod).map((c) => imageName(c.image ?? ""))),
    );
    for (const img of k.value.images ?? []) {
      if (!img.name || !images.has(img.name))
        problems.push(`${k.file}: images entry ${JSON.stringify(img.name)} matches no container image of its resources (${[...images].join(", ")})`);
    }
  }
  for (const file of new Set(yamlFiles(bundle.root, PATHS.k8s))) {
    if (/(^|\/)kustomization\.ya?ml$/.test(file) || file.startsWith(ON_DEMAND_DIR)) continue;
    if (!listed.has(file)) problems.push(`${file} is not listed in any kustomization.yaml's resources, so \`kubectl apply -k\` would skip it`);
  }
  return problems;
}

/** "grpomesh/judge:0.1.0" → "grpomesh/judge" (tag and digest dropped). */
export function imageName(image: string): string {
  const noDigest = image.split("@")[0]!;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Pod templates: selectors, container ports, probes, mounts, volumes, claims, ConfigMaps, env. */
export function checkWorkloads(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  for (const w of workloads(bundle)) {
    const at = where(w.m);
    const labels = w.pod.metadata?.labels ?? {};
    if (w.m.obj.kind === "Deployment") {
      const sel = labelSelector(w.m.obj);
      if (!selectorMatches(sel, labels))
        problems.push(
          `${at}: spec.selector ${JSON.stringify(sel)} does not match the pod template's labels ${JSON.stringify(labels)}; the API server refuses that`,
        );
    }
    if (w.m.obj.kind === "Job" && !["Never", "OnFailure"].includes(w.pod.spec?.restartPolicy ?? "")) {
      problems.push(`${at}: restartPolicy is ${w.pod.spec?.restartPolicy ?? "unset"}; a Job's pods need Never or OnFailure`);
    }
    const volumes = new Map((w.pod.spec?.volumes ?? []).map((v) => [v.name, v]));
    for (const v of w.pod.spec?.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (v.persistentVolumeClaim && !findObject(bundle, "PersistentVolumeClaim", claim ?? "", w.namespace)) {
        problems.push(`${at}: volume ${v.name} uses PersistentVolumeClaim ${claim}, which no manifest defines in namespace ${w.namespace}`);
      }
      if (v.configMap) {
        const cm = findObject(bundle, "ConfigMap", v.configMap.name ?? "", w.namespace);
        if (!cm && !v.configMap.optional)
          problems.push(`${at}: volume ${v.name} uses ConfigMap ${v.configMap.name}, which no manifest defines in namespace ${w.namespace}`);
        for (const item of v.configMap.items ?? []) {
          if (cm && !(item.key! in (cm.obj.data ?? {})))
            problems.push(
              `${at}: volume ${v.name} maps key ${item.key} of ConfigMap ${v.configMap.name}, which has keys ${Object.keys(cm.obj.data ?? {}).join(", ")}`,
            );
        }
      }
    }
    for (const c of containersOf(w.pod)) {
      const cat = `${at} container ${c.name}`;
      if (!c.image) problems.push(`${cat}: no image`);
      const names = new Set<string>();
      for (const p of c.ports ?? []) {
        if (p.name !== undefined) {
          if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p.name) || p.name.length > 15)
            problems.push(`${cat}: port name ${JSON.stringify(p.name)} is not an IANA service name (at most 15 lower-case characters)`);
          if (names.has(p.name)) problems.push(`${cat}: port name ${p.name} is used twice`);
          names.add(p.name);
        }
      }
      for (const [kind, probe] of [
        ["startupProbe", c.startupProbe],
        ["readinessProbe", c.readinessProbe],
        ["livenessProbe", c.livenessProbe],
      ] as const) {
        if (!probe) continue;
        const ref = probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
        if (ref !== undefined && !(c.ports ?? []).some((p) => (typeof ref === "number" ? p.containerPort === ref : p.name === ref))) {
          problems.push(
            `${cat}: ${kind} probes port ${ref}, which the container does not declare (ports: ${(c.ports ?? []).map((p) => `${p.name}=${p.containerPort}`).join(", ") || "none"})`,
          );
        }
      }
      for (const vm of c.volumeMounts ?? []) {
        const v = volumes.get(vm.name);
        if (!v) {
          problems.push(`${cat}: volumeMount ${vm.name} at ${vm.mountPath} names no volume of the pod (volumes: ${[...volumes.keys()].join(", ") || "none"})`);
          continue;
        }
        if (v.persistentVolumeClaim?.readOnly && !vm.readOnly)
          problems.push(`${cat}: volume ${vm.name} is a read-only claim but is mounted at ${vm.mountPath} without readOnly: true`);
        if (!vm.mountPath?.startsWith("/"))
          problems.push(`${cat}: volumeMount ${vm.name} has mountPath ${JSON.stringify(vm.mountPath)}; expected an absolute path`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.configMapKeyRef;
        if (!ref || ref.optional) continue;
        const cm = findObject(bundle, "ConfigMap", ref.name ?? "", w.namespace);
        if (!cm) problems.push(`${cat}: env ${e.name} reads ConfigMap ${ref.name}, which no manifest defines in namespace ${w.namespace}`);
        else if (!(ref.key! in (cm.obj.data ?? {})))
          problems.push(`${cat}: env ${e.name} reads key ${ref.key} of ConfigMap ${ref.name}, which has keys ${Object.keys(cm.obj.data ?? {}).join(", ")}`);
      }
      for (const ef of c.envFrom ?? []) {
        if (ef.configMapRef && !ef.configMapRef.optional && !findObject(bundle, "ConfigMap", ef.configMapRef.name ?? "", w.namespace)) {
          problems.push(`${cat}: envFrom reads ConfigMap ${ef.configMapRef.name}, which no manifest defines in namespace ${w.namespace}`);
        }
      }
      for (const [res, req] of Object.entries(c.resources?.requests ?? {})) {
        if (res.includes("/") && String(c.resources?.limits?.[res]) !== String(req)) {
          problems.push(
            `${cat}: extended resource ${res} is requested (${req}) but its limit is ${c.resources?.limits?.[res] ?? "unset"}; Kubernetes needs them equal`,
          );
        }
      }
    }
  }
  return problems;
}

/** Services select a workload's pods, and every port they forward exists in those pods. */
export function checkServices(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  for (const svc of objectsOfKind(bundle, "Service")) {
    const at = where(svc);
    const sel = serviceSelector(svc.obj);
    if (Object.keys(sel).length === 0) {
      problems.push(`${at}: no selector; every Service here should select a workload's pods`);
      continue;
    }
    const selected = selectedWorkloads(bundle, svc);
    if (selected.length === 0)
      problems.push(`${at}: selector ${JSON.stringify(sel)} matches the pods of no Deployment, Job or Pod in namespace ${namespaceOf(bundle, svc)}`);
    const kinds = new Set(selected.filter((w) => w.m.obj.kind !== "Pod").map((w) => `${w.m.obj.kind}/${w.m.obj.metadata?.name}`));
    if (kinds.size > 1)
      problems.push(`${at}: selector ${JSON.stringify(sel)} matches the pods of several workloads (${[...kinds].join(", ")}); traffic would mix them`);
    const portNames = new Set<string>();
    for (const sp of svc.obj.spec?.ports ?? []) {
      if (sp.name) {
        if (portNames.has(sp.name)) problems.push(`${at}: port name ${sp.name} is used twice`);
        portNames.add(sp.name);
      }
      for (const w of selected) {
        if (!servicePortTarget(w.pod, sp)) {
          problems.push(`${at}: port ${sp.name ?? sp.port} targets ${sp.targetPort ?? sp.port}, which ${where(w.m)}'s containers do not declare`);
        }
      }
    }
    if ((svc.obj.spec?.ports ?? []).length > 1 && [...(svc.obj.spec?.ports ?? [])].some((p) => !p.name))
      problems.push(`${at}: a Service with several ports must name each one`);
  }
  return problems;
}

/** The PodDisruptionBudget and HorizontalPodAutoscaler point at real workloads and agree. */
export function checkDisruptionAndScaling(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  for (const pdb of objectsOfKind(bundle, "PodDisruptionBudget")) {
    const ns = namespaceOf(bundle, pdb);
    const matched = workloads(bundle).filter((w) => w.namespace === ns && selectorMatches(labelSelector(pdb.obj), w.pod.metadata?.labels));
    if (matched.length !== 1) {
      problems.push(
        `${where(pdb)}: selector matches the pods of ${matched.length} workloads (${matched.map((w) => where(w.m)).join(", ") || "none"}); expected exactly one`,
      );
    }
    if ((pdb.obj.spec?.minAvailable === undefined) === (pdb.obj.spec?.maxUnavailable === undefined)) {
      problems.push(`${where(pdb)}: set exactly one of minAvailable and maxUnavailable`);
    }
  }
  for (const hpa of objectsOfKind(bundle, "HorizontalPodAutoscaler")) {
    const ref = hpa.obj.spec?.scaleTargetRef ?? {};
    const ns = namespaceOf(bundle, hpa);
    const target = ref.kind ? findObject(bundle, ref.kind, ref.name ?? "", ns) : undefined;
    if (!target) {
      problems.push(`${where(hpa)}: scaleTargetRef ${ref.kind}/${ref.name} is not defined in namespace ${ns}`);
      continue;
    }
    if (ref.apiVersion !== target.obj.apiVersion)
      problems.push(`${where(hpa)}: scaleTargetRef.apiVersion is ${ref.apiVersion}; the target is ${target.obj.apiVersion}`);
    const min = hpa.obj.spec?.minReplicas ?? 1;
    const max = hpa.obj.spec?.maxReplicas ?? 0;
    if (!(min >= 1 && max >= min)) problems.push(`${where(hpa)}: minReplicas ${min} and maxReplicas ${max}; expected 1 ≤ min ≤ max`);
    if ((hpa.obj.spec?.metrics ?? []).length === 0) problems.push(`${where(hpa)}: no metrics to scale on`);
    // A budget that forbids every eviction at the autoscaler's minimum would block node drains.
    for (const pdb of objectsOfKind(bundle, "PodDisruptionBudget")) {
      if (!selectorMatches(labelSelector(pdb.obj), target.obj.spec?.template?.metadata?.labels)) continue;
      const allowed = disruptionsAllowed(pdb.obj, min);
      if (allowed < 1) problems.push(`${where(pdb)}: allows ${allowed} disruptions at the autoscaler's minReplicas ${min}; node drains would hang`);
    }
  }
  return problems;
}

function disruptionsAllowed(pdb: K8sObject, replicas: number): number {
  const count = (v: number | string) => (typeof v === "number" ? v : Math.ceil((parseFloat(v) / 100) * replicas));
  if (pdb.spec?.maxUnavailable !== undefined) return count(pdb.spec.maxUnavailable);
  if (pdb.spec?.minAvailable !== undefined) return replicas - count(pdb.spec.minAvailable);
  return replicas;
}

/** Pods run as a non-root user without privilege escalation. */
export function checkPodSecurity(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  for (const w of workloads(bundle)) {
    const sc = w.pod.spec?.securityContext ?? {};
    if (sc.runAsNonRoot !== true) problems.push(`${where(w.m)}: securityContext.runAsNonRoot is not true`);
    if (sc.runAsUser === 0) problems.push(`${where(w.m)}: securityContext.runAsUser is 0 (root)`);
    const writesClaims = containersOf(w.pod).some((c) =>
      (c.volumeMounts ?? []).some((vm) => !vm.readOnly && w.pod.spec?.volumes?.find((v) => v.name === vm.name)?.persistentVolumeClaim),
    );
    if (writesClaims && sc.fsGroup === undefined)
      problems.push(
        `${where(w.m)}: writes to a PersistentVolumeClaim as a non-root user but sets no securityContext.fsGroup, so the volume may not be writable`,
      );
    for (const c of containersOf(w.pod)) {
      if (c.securityContext?.allowPrivilegeEscalation !== false)
        problems.push(`${where(w.m)} container ${c.name}: securityContext.allowPrivilegeEscalation is not false`);
    }
  }
  return problems;
}

export const MANIFEST_CHECKS = { checkSchemas, checkObjects, checkKustomizations, checkWorkloads, checkServices, checkDisruptionAndScaling, checkPodSecurity };
