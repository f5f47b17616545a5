// NetworkPolicies, evaluated: which pod → pod/port flows the manifests' policies allow, computed
// the way a NetworkPolicy implementation decides them, over the namespace's workloads and a few
// pods outside it (Prometheus, kube-dns, a pod of another namespace, an address on the internet).
// The check compares that set with the one the roles need, so a rule that is too broad fails as
// surely as one that is missing.
import type { DeployBundle } from "./bundle.ts";
import {
  containersOf,
  namespaceOf,
  objectsOfKind,
  selectorMatches,
  workloads,
  type K8sObject,
  type LabelSelector,
  type Labels,
  type NetworkPolicyPeer,
  type NetworkPolicyPort,
} from "./k8s.ts";

interface Peer {
  /**
   * The workload's role (its app.kubernetes.io/name label: every run's policy is "policy"), or what
   * the outside pod stands for. The policies are per role: runs in one namespace share one trust
   * domain (the same Secrets), so a flow between two runs' roles is the same flow.
   */
  name: string;
  /** undefined: not a pod (an address outside the cluster). */
  namespace?: string;
  namespaceLabels: Labels;
  labels: Labels;
  ip: string;
  /** Ports something may listen on: the declared container ports, plus one undeclared port. */
  ports: Array<{ name?: string; port: number; protocol: string }>;
  /** Pods of the manifests' namespaces are subject to their policies; outside peers are not. */
  governed: boolean;
}

interface Flow {
  from: string;
  to: string;
  port: number;
  protocol: string;
}

export const flowName = (f: Flow) => `${f.from} → ${f.to}:${f.port}/${f.protocol}`;

/** A port no container declares: a rule without `ports` opens it, and the check sees that. */
const UNDECLARED_PORT = 9999;

/**
 * Prometheus as the manifests and deploy/README.md assume it: pods labelled
 * app.kubernetes.io/name=prometheus in namespace monitoring.
 */
const PROMETHEUS = { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus" } } as const;

/** Pods outside the manifests' namespaces, each one a way for a rule to be too broad. */
function outsidePeers(): Peer[] {
  const pod = (name: string, namespace: string, labels: Labels, ip: string, ports: Peer["ports"]): Peer => {
    return { name, namespace, namespaceLabels: { "kubernetes.io/metadata.name": namespace }, labels, ip, ports, governed: false };
  };
  return [
    pod("prometheus", PROMETHEUS.namespace, { ...PROMETHEUS.labels }, "10.244.9.1", [{ port: 9090, protocol: "TCP" }]),
    pod("kube-dns", "kube-system", { "k8s-app": "kube-dns" }, "10.244.9.2", [
      { name: "dns", port: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53, protocol: "TCP" },
      { name: "metrics", port: 9153, protocol: "TCP" },
    ]),
    // Another pod of the monitoring namespace (a namespaceSelector alone would let it in).
    pod("grafana", PROMETHEUS.namespace, { "app.kubernetes.io/name": "grafana" }, "10.244.9.3", [{ port: 3000, protocol: "TCP" }]),
    // A Prometheus-labelled pod elsewhere (a podSelector with an empty namespaceSelector would let it in).
    pod("prometheus-elsewhere", "default", { ...PROMETHEUS.labels }, "10.244.9.4", [{ port: 9090, protocol: "TCP" }]),
    { name: "internet", namespace: undefined, namespaceLabels: {}, labels: {}, ip: "203.0.113.7", ports: [{ port: 443, protocol: "TCP" }], governed: false },
  ];
}

/** Every workload's pods as a peer, plus a stranger pod in each namespace (e.g. a `kubectl run` debug pod). */
function namespacePeers(bundle: DeployBundle): Peer[] {
  const nsLabels = new Map<string, Labels>();
  for (const ns of objectsOfKind(bundle, "Namespace")) {
    const name = ns.obj.metadata?.name ?? "";
    nsLabels.set(name, { ...(ns.obj.metadata?.labels ?? {}), "kubernetes.io/metadata.name": name });
  }
  const labelsOf = (ns: string) => nsLabels.get(ns) ?? { "kubernetes.io/metadata.name": ns };
  const peers: Peer[] = [];
  let n = 1;
  for (const w of workloads(bundle)) {
    const ports = containersOf(w.pod).flatMap((c) => (c.ports ?? []).map((p) => ({ name: p.name, port: p.containerPort ?? 0, protocol: p.protocol ?? "TCP" })));
    peers.push({
      name: w.pod.metadata?.labels?.["app.kubernetes.io/name"] ?? w.m.obj.metadata?.name ?? "?",
      namespace: w.namespace,
      namespaceLabels: labelsOf(w.namespace),
      labels: w.pod.metadata?.labels ?? {},
      ip: `10.244.0.${n++}`,
      ports: [...ports, { port: UNDECLARED_PORT, protocol: "TCP" }],
      governed: true,
    });
  }
  for (const ns of new Set(workloads(bundle).map((w) => w.namespace))) {
    peers.push({
      name: `stranger-in-${ns}`,
      namespace: ns,
      namespaceLabels: labelsOf(ns),
      labels: { run: "debug" },
      ip: `10.244.0.${n++}`,
      ports: [{ port: UNDECLARED_PORT, protocol: "TCP" }],
      governed: true,
    });
  }
  return peers;
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split("/");
  if (!base || base.includes(":") || ip.includes(":")) return false;
  const bits = Number(bitsText ?? 32);
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return (ipToInt(base) & mask) >>> 0 === (ipToInt(ip) & mask) >>> 0;
}

function peerMatches(peer: NetworkPolicyPeer, other: Peer, policyNamespace: string): boolean {
  if (peer.ipBlock) {
    const cidr = peer.ipBlock.cidr ?? "";
    return cidrContains(cidr, other.ip) && !(peer.ipBlock.except ?? []).some((e) => cidrContains(e, other.ip));
  }
  if (other.namespace === undefined) return false; // selectors match pods only
  if (peer.namespaceSelector) {
    if (!selectorMatches(peer.namespaceSelector, other.namespaceLabels, true)) return false;
  } else if (other.namespace !== policyNamespace) {
    return false; // a podSelector alone means pods of the policy's own namespace
  }
  return selectorMatches(peer.podSelector, other.labels, true);
}

function peersMatch(peers: NetworkPolicyPeer[] | undefined, other: Peer, policyNamespace: string): boolean {
  if (!peers || peers.length === 0) return true; // no from/to: every source or destination
  return peers.some((p) => peerMatches(p, other, policyNamespace));
}

function portsMatch(ports: NetworkPolicyPort[] | undefined, destination: Peer, port: { port: number; protocol: string }): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? "TCP") !== port.protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === "string") return destination.ports.some((dp) => dp.name === p.port && dp.port === port.port && dp.protocol === port.protocol);
    return port.port >= p.port && port.port <= (p.endPort ?? p.port);
  });
}

function policyTypes(np: K8sObject): string[] {
  return np.spec?.policyTypes ?? ["Ingress", ...(np.spec?.egress ? ["Egress"] : [])];
}

/** The flows the bundle's NetworkPolicies allow between the given peers, on the destinations' ports. */
export function allowedFlows(bundle: DeployBundle, peers: Peer[] = [...namespacePeers(bundle), ...outsidePeers()]): Flow[] {
  const policies = objectsOfKind(bundle, "NetworkPolicy").map((m) => ({ obj: m.obj, namespace: namespaceOf(m) }));
  const selecting = (pod: Peer, type: string) =>
    pod.governed
      ? policies.filter((p) => p.namespace === pod.namespace && policyTypes(p.obj).includes(type) && selectorMatches(p.obj.spec?.podSelector, pod.labels, true))
      : [];
  const flows: Flow[] = [];
  for (const src of peers) {
    for (const dst of peers) {
      if (src === dst || (!src.governed && !dst.governed)) continue;
      const egress = selecting(src, "Egress");
      const ingress = selecting(dst, "Ingress");
      for (const port of dst.ports) {
        const out =
          egress.length === 0 ||
          egress.some((p) => (p.obj.spec?.egress ?? []).some((r) => peersMatch(r.to, dst, p.namespace) && portsMatch(r.ports, dst, port)));
        const inn =
          ingress.length === 0 ||
          ingress.some((p) => (p.obj.spec?.ingress ?? []).some((r) => peersMatch(r.from, src, p.namespace) && portsMatch(r.ports, dst, port)));
        if (out && inn) flows.push({ from: src.name, to: dst.name, port: port.port, protocol: port.protocol });
      }
    }
  }
  return flows;
}

/**
 * What the roles need, and nothing else: the orchestrator calls policy, reference and the judges
 * and resolves names through kube-dns; Prometheus scrapes each role's metrics port.
 */
export const INTENDED_FLOWS: readonly string[] = [
  "orchestrator → policy:50071/TCP",
  "orchestrator → reference:50072/TCP",
  "orchestrator → judge:50051/TCP",
  "orchestrator → kube-dns:53/UDP",
  "orchestrator → kube-dns:53/TCP",
  // The swap-judge Job (deploy/k8s/ops/swap-judge.yaml): SwapJudge on the run's orchestrator.
  "swap-judge → orchestrator:50070/TCP",
  "swap-judge → kube-dns:53/UDP",
  "swap-judge → kube-dns:53/TCP",
  // … and fetches a model from an https URL (narrow it to your mirror's addresses).
  "swap-judge → internet:443/TCP",
  "prometheus → judge:9464/TCP",
  "prometheus → policy:9465/TCP",
  "prometheus → reference:9466/TCP",
  "prometheus → orchestrator:9467/TCP",
];

/** A default-deny policy (all pods, Ingress and Egress, no rules) in every namespace with workloads, and exactly the intended flows. */
export function checkNetworkPolicies(bundle: DeployBundle, intended: readonly string[] = INTENDED_FLOWS): string[] {
  const problems: string[] = [];
  const policies = objectsOfKind(bundle, "NetworkPolicy");
  for (const ns of new Set(workloads(bundle).map((w) => w.namespace))) {
    const denyAll = policies.find((m) => {
      const spec = m.obj.spec ?? {};
      const selectsAll = Object.keys(spec.podSelector?.matchLabels ?? {}).length === 0 && (spec.podSelector?.matchExpressions ?? []).length === 0;
      return (
        namespaceOf(m) === ns &&
        selectsAll &&
        (["Ingress", "Egress"] as const).every((t) => (spec.policyTypes ?? []).includes(t)) &&
        (spec.ingress ?? []).length === 0 &&
        (spec.egress ?? []).length === 0
      );
    });
    if (!denyAll)
      problems.push(
        `namespace ${ns} has no default-deny NetworkPolicy (podSelector: {}, policyTypes: [Ingress, Egress], no rules); every pod can reach and be reached by anything`,
      );
  }
  const allowed = new Set(allowedFlows(bundle).map(flowName));
  const want = new Set(intended);
  for (const f of [...allowed].sort()) if (!want.has(f)) problems.push(`NetworkPolicies allow ${f}, which no role needs; narrow the rule that allows it`);
  for (const f of intended) if (!allowed.has(f)) problems.push(`NetworkPolicies do not allow ${f}, which the roles need`);
  return problems;
}
