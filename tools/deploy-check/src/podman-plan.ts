// The rendered Kubernetes manifests turned into what `podman kube play` (podman 4.3) can run, and
// the list of what it cannot. Pure: objects in, a plan out; the runner (podman-play.ts) executes it.
//
// What changes on the way, each because podman cannot express it (deploy/README.md, "Containers on
// one machine"):
// - Service → network aliases on the pods it selects (short name and <svc>.<ns>.svc.cluster.local);
//   aardvark-dns answers every pod that carries an alias, like a headless Service.
// - Job → Pod (restartPolicy Never); the runner watches its exit instead of the Job controller.
// - Deployment: one pod each (the HPA owns the judges' count on a cluster; here the runner scales).
// - Secret volumes → hostPath folders with the same files and modes (podman 4.3's kube play crashes on
//   secret volumes: a nil pointer in VolumeFromSecret).
// - env fieldRef metadata.namespace → its value (4.3 supports labels and annotations, not the
//   namespace); `$(VAR)` in command/args expanded from the container's env as the kubelet would
//   (podman passes them through literally).
// - containerPort lists dropped: podman 4.3 publishes them on the host's every interface (a second
//   replica cannot start, and the ports would be reachable from outside); pods reach pods directly.
// - PersistentVolumeClaim → a podman volume named <prefix><claim> (so nothing of the host is reused).
// - Namespace, ServiceAccount, NetworkPolicy, PodDisruptionBudget, HorizontalPodAutoscaler,
//   PriorityClass: not applied (no podman equivalent); listed in the plan's `skipped`.
import { serviceSelects, type K8sObject, type PodTemplate } from "./k8s.ts";

type Env = { name?: string; value?: string; valueFrom?: { fieldRef?: { fieldPath?: string }; configMapKeyRef?: { name?: string; key?: string } } };

export interface PlanOptions {
  /** Prefix of the podman volumes that stand in for the claims. */
  volumePrefix: string;
  /** Folder holding one sub-folder per Secret (its keys as files), made by the runner. */
  secretsDir: string;
}

export interface PlayUnit {
  /** The workload: "Deployment/judge", "Job/orchestrator-grpo-1". */
  source: string;
  kind: "Deployment" | "Job";
  name: string;
  labels: Record<string, string>;
  /** One pod (a Deployment with replicas 1, or a Pod for a Job). */
  object: K8sObject;
  /** Network aliases: the Services that select it. */
  aliases: string[];
  /** Secret → keys (as files) and the folder the pod mounts for each of its secret volumes. */
  secretMounts: Array<{ secretName: string; dir: string; items: Array<{ key: string; path: string }>; mode: number }>;
}

export interface PodmanPlan {
  namespace: string;
  configMaps: K8sObject[];
  /** Podman volume names, by claim name. */
  volumes: Record<string, string>;
  units: PlayUnit[];
  skipped: Array<{ object: string; why: string }>;
}

const SKIP_WHY: Record<string, string> = {
  Namespace: "podman has no namespaces; the runner uses its own network and volumes",
  ServiceAccount: "no API server; no pod calls one",
  NetworkPolicy: "podman has no network policy; the runner's network holds only this stack",
  PodDisruptionBudget: "no evictions on one machine",
  HorizontalPodAutoscaler: "no autoscaler; the runner scales the judges itself",
  PriorityClass: "no scheduler",
  Service: "became network aliases of the pods it selects",
};

const clone = <T>(v: T): T => structuredClone(v);

/** `$(NAME)` replaced from `env`; `$$(NAME)` stays `$(NAME)`; unknown names are left as they are (as the kubelet does). */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) => {
    if (whole === "$$") return "$";
    return name !== undefined && name in env ? env[name]! : whole;
  });
}

/**
 * The env a container sees, in order (later entries may use earlier ones), from literal values,
 * field refs and ConfigMaps. Literal values are written back expanded, and namespace field refs
 * become values, as podman does neither.
 */
function resolveEnv(env: Env[], labels: Record<string, string>, namespace: string, configMaps: K8sObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    if (!e.name) continue;
    if (e.value !== undefined) out[e.name] = e.value = expandVars(e.value, out);
    else if (e.valueFrom?.fieldRef?.fieldPath) {
      const p = e.valueFrom.fieldRef.fieldPath;
      const label = /^metadata\.labels\['(.+)'\]$/.exec(p)?.[1];
      if (p === "metadata.namespace") {
        out[e.name] = e.value = namespace;
        delete e.valueFrom;
      } else if (label !== undefined) out[e.name] = labels[label] ?? "";
    } else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const v = configMaps.find((c) => c.metadata?.name === name)?.data?.[key ?? ""];
      if (v !== undefined) out[e.name] = v;
    }
  }
  return out;
}

/** Rewrites one pod template for podman; returns its secret mounts. */
function adaptPod(template: PodTemplate, unitName: string, namespace: string, configMaps: K8sObject[], opts: PlanOptions): PlayUnit["secretMounts"] {
  const spec = template.spec!;
  const labels = (template.metadata?.labels ?? {}) as Record<string, string>;
  const mounts: PlayUnit["secretMounts"] = [];
  for (const v of spec.volumes ?? []) {
    if (v.secret) {
      const dir = `${opts.secretsDir}/${unitName}-${v.name}`;
      mounts.push({
        secretName: v.secret.secretName ?? "",
        dir,
        items: (v.secret.items ?? []).map((i) => ({ key: i.key ?? "", path: i.path ?? "" })),
        mode: v.secret.defaultMode ?? 0o644,
      });
      delete (v as { secret?: unknown }).secret;
      (v as { hostPath?: unknown }).hostPath = { path: dir, type: "Directory" };
    }
    if (v.persistentVolumeClaim?.claimName) v.persistentVolumeClaim.claimName = opts.volumePrefix + v.persistentVolumeClaim.claimName;
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const env = resolveEnv((c.env ?? []) as Env[], labels, namespace, configMaps);
    // podman 4.3 publishes a containerPort on the host (all interfaces): a second replica could not
    // start, and the ports would be open beyond this machine. Pods reach each other on the network.
    delete (c as { ports?: unknown }).ports;
    if (c.command) c.command = c.command.map((a) => expandVars(a, env));
    if (c.args) c.args = c.args.map((a) => expandVars(a, env));
  }
  return mounts;
}

/** The plan for a rendered YAML's objects (and ops objects, e.g. Jobs applied on demand). */
export function planForPodman(objects: K8sObject[], opts: PlanOptions): PodmanPlan {
  const namespace = objects.find((o) => o.kind === "Namespace")?.metadata?.name ?? objects.find((o) => o.metadata?.namespace)?.metadata?.namespace ?? "default";
  const configMaps = objects.filter((o) => o.kind === "ConfigMap").map(clone);
  const services = objects.filter((o) => o.kind === "Service");
  const plan: PodmanPlan = { namespace, configMaps, volumes: {}, units: [], skipped: [] };
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.name}`;
    if (o.kind === "PersistentVolumeClaim") plan.volumes[o.metadata!.name!] = opts.volumePrefix + o.metadata!.name!;
    else if (o.kind === "Deployment" || o.kind === "Job") {
      const name = o.metadata!.name!;
      const template = clone((o.spec as { template: PodTemplate }).template);
      const labels = (template.metadata?.labels ?? {}) as Record<string, string>;
      const secretMounts = adaptPod(template, name, namespace, configMaps, opts);
      const aliases = services
        .filter((s) => serviceSelects(s, labels))
        .flatMap((s) => [s.metadata!.name!, `${s.metadata!.name!}.${namespace}.svc.cluster.local`]);
      const object: K8sObject =
        o.kind === "Deployment"
          ? {
              apiVersion: "apps/v1",
              kind: "Deployment",
              metadata: { name, labels: (o.metadata?.labels ?? {}) as Record<string, string> },
              spec: { replicas: 1, selector: (o.spec as { selector?: Record<string, unknown> }).selector, template },
            }
          : { apiVersion: "v1", kind: "Pod", metadata: { name, labels }, spec: { ...template.spec, restartPolicy: "Never" } };
      plan.units.push({ source: id, kind: o.kind, name, labels, object, aliases, secretMounts });
    } else if (o.kind !== "ConfigMap") {
      plan.skipped.push({ object: id, why: SKIP_WHY[o.kind ?? ""] ?? "not a kind podman kube play runs" });
    }
  }
  return plan;
}

/** A copy of a Deployment unit under another name: one more replica (podman kube play has no scale). */
export function replicaOf(unit: PlayUnit, index: number): PlayUnit {
  if (unit.kind !== "Deployment") throw new Error(`${unit.source}: only Deployments have replicas`);
  const object = clone(unit.object);
  const name = `${unit.name}-r${index}`;
  object.metadata = { ...object.metadata, name };
  return { ...unit, name, object, secretMounts: unit.secretMounts };
}
