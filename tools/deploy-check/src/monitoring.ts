// Checks on scraping and autoscaling: the ServiceMonitor scrapes every pod's metrics port exactly
// once, with the namespace and pod labels that prometheus-adapter needs; the adapter serves every
// Pods metric an autoscaler asks for.
import { where, type DeployBundle } from "./bundle.ts";
import type { PodTemplate } from "./k8s-types.ts";
import {
  labelSelector,
  namespaceOf,
  objectsOfKind,
  resolveContainerPort,
  selectedWorkloads,
  selectorMatches,
  servicePortTarget,
  workloads,
  type Workload,
} from "./k8s.ts";

/** One scrape target: a Service port in front of one workload's metrics container port. */
export interface ScrapeTarget {
  service: string;
  namespace: string;
  port: string;
  workload: string;
  /** Labels the scraped series get (for the plain config: after relabeling). */
  labels: Record<string, string>;
}

const key = (t: ScrapeTarget) => `${t.namespace}/${t.service}:${t.port} → ${t.workload}`;

/** What the ServiceMonitors scrape (prometheus-operator semantics: Services in their own namespace unless namespaceSelector says otherwise). */
export function serviceMonitorTargets(bundle: DeployBundle): ScrapeTarget[] {
  const out: ScrapeTarget[] = [];
  for (const sm of objectsOfKind(bundle, "ServiceMonitor")) {
    const smNs = namespaceOf(bundle, sm);
    const namespaces = sm.obj.spec?.namespaceSelector?.matchNames ?? [smNs];
    for (const svc of objectsOfKind(bundle, "Service")) {
      const ns = namespaceOf(bundle, svc);
      if (!namespaces.includes(ns) || !selectorMatches(labelSelector(sm.obj), svc.obj.metadata?.labels)) continue;
      for (const ep of sm.obj.spec?.endpoints ?? []) {
        const sp = (svc.obj.spec?.ports ?? []).find((p) => p.name === ep.port);
        if (!sp) continue;
        for (const w of selectedWorkloads(bundle, svc)) {
          out.push({
            service: svc.obj.metadata!.name!,
            namespace: ns,
            port: ep.port!,
            workload: workloadName(w),
            labels: { namespace: ns, pod: `${w.m.obj.metadata?.name}-pod`, service: svc.obj.metadata!.name! },
          });
        }
      }
    }
  }
  return out;
}

const workloadName = (w: Workload) => `${w.m.obj.kind}/${w.m.obj.metadata?.name}`;

/** Pods with a container port named "metrics": what must be scraped. */
function metricsWorkloads(bundle: DeployBundle): Workload[] {
  return workloads(bundle).filter((w) => resolveContainerPort(w.pod, "metrics"));
}

function coverage(bundle: DeployBundle, targets: ScrapeTarget[], what: string): string[] {
  const problems: string[] = [];
  for (const w of metricsWorkloads(bundle)) {
    const hits = targets.filter((t) => t.workload === workloadName(w) && t.namespace === w.namespace);
    if (hits.length !== 1)
      problems.push(`${what}: ${where(w.m)}'s metrics port is scraped ${hits.length} times (${hits.map(key).join("; ") || "never"}); expected once`);
  }
  for (const t of targets) {
    const w = workloads(bundle).find((x) => workloadName(x) === t.workload && x.namespace === t.namespace)!;
    const svc = objectsOfKind(bundle, "Service").find((s) => s.obj.metadata?.name === t.service && namespaceOf(bundle, s) === t.namespace)!;
    const sp = (svc.obj.spec?.ports ?? []).find((p) => p.name === t.port)!;
    const cp = servicePortTarget(w.pod as PodTemplate, sp);
    if (cp?.port.name !== "metrics")
      problems.push(`${what}: scrapes ${key(t)}, which reaches container port ${cp?.port.name ?? sp.targetPort}, not the metrics port`);
    for (const label of ["namespace", "pod"])
      if (!t.labels[label]) problems.push(`${what}: series from ${key(t)} get no ${label} label; prometheus-adapter maps metrics to pods by namespace and pod`);
  }
  return problems;
}

export function checkServiceMonitor(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  const sms = objectsOfKind(bundle, "ServiceMonitor");
  if (sms.length === 0) return ["no ServiceMonitor under deploy/k8s"];
  for (const sm of sms) {
    for (const ep of sm.obj.spec?.endpoints ?? []) {
      if (ep.path && ep.path !== "/metrics") problems.push(`${where(sm)}: endpoint path ${ep.path}; the services serve /metrics`);
    }
  }
  return [...problems, ...coverage(bundle, serviceMonitorTargets(bundle), "ServiceMonitor")];
}

// ---------------------------------------------------------------- autoscaling metrics

interface AdapterRule {
  seriesQuery?: string;
  resources?: { overrides?: Record<string, { resource?: string }> };
  name?: { matches?: string; as?: string };
  metricsQuery?: string;
}

/** The custom-metrics names prometheus-adapter serves, with the Prometheus series each comes from. */
export function adapterMetrics(bundle: DeployBundle): Array<{ name: string; series: string; rule: AdapterRule }> {
  const cfg = bundle.adapterRules as { rules?: { custom?: AdapterRule[] } };
  const out: Array<{ name: string; series: string; rule: AdapterRule }> = [];
  for (const rule of cfg?.rules?.custom ?? []) {
    const series = /^\s*'?([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(rule.seriesQuery ?? "")?.[1];
    if (!series) continue;
    const m = new RegExp(rule.name?.matches ?? "^(.*)$").exec(series);
    const name = m ? (rule.name?.as ?? "$1").replace(/\$\{?(\d+)\}?/g, (_, i: string) => m[Number(i)] ?? "") : series;
    out.push({ name, series, rule });
  }
  return out;
}

/**
 * Every Pods metric of an autoscaler is served by an adapter rule that maps namespace and pod
 * labels to resources; `exported(metric)` says whether the scaled service exports the series.
 */
export function checkAutoscalerMetrics(bundle: DeployBundle, exported: (series: string, workload: string) => boolean): string[] {
  const problems: string[] = [];
  const served = adapterMetrics(bundle);
  for (const hpa of objectsOfKind(bundle, "HorizontalPodAutoscaler")) {
    for (const metric of hpa.obj.spec?.metrics ?? []) {
      if (metric.type !== "Pods") continue;
      const name = metric.pods?.metric?.name ?? "";
      const rule = served.find((s) => s.name === name);
      if (!rule) {
        problems.push(
          `${where(hpa)}: scales on Pods metric ${name}, which no rule of deploy/prometheus/adapter-rules.yaml serves (served: ${served.map((s) => s.name).join(", ") || "none"})`,
        );
        continue;
      }
      const overrides = rule.rule.resources?.overrides ?? {};
      if (overrides.namespace?.resource !== "namespace" || overrides.pod?.resource !== "pod") {
        problems.push(
          `deploy/prometheus/adapter-rules.yaml: the rule for ${name} must map label namespace to resource namespace and pod to pod, or the Pods metric has no pods`,
        );
      }
      if (!/<<\.Series>>/.test(rule.rule.metricsQuery ?? "") || !/<<\.LabelMatchers>>/.test(rule.rule.metricsQuery ?? "")) {
        problems.push(`deploy/prometheus/adapter-rules.yaml: the metricsQuery for ${name} must use <<.Series>> and <<.LabelMatchers>>`);
      }
      if (metric.pods?.target?.type !== "AverageValue") problems.push(`${where(hpa)}: a Pods metric needs target type AverageValue`);
      const target = hpa.obj.spec?.scaleTargetRef?.name ?? "";
      if (!exported(rule.series, target)) problems.push(`${where(hpa)}: scales on series ${rule.series}, which ${target} does not export`);
    }
  }
  return problems;
}
