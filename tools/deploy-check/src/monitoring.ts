// Checks on scraping and autoscaling: the ServiceMonitor scrapes every pod's metrics port exactly
// once; the adapter serves every Pods metric an autoscaler asks for.
import { where, type DeployBundle } from "./bundle.ts";
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

/** One scrape target: a Service port in front of one workload, and the container port it reaches. */
interface ScrapeTarget {
  service: string;
  namespace: string;
  port: string;
  workload: string;
  reaches?: string;
}

const key = (t: ScrapeTarget) => `${t.namespace}/${t.service}:${t.port} → ${t.workload}`;
const workloadName = (w: Workload) => `${w.m.obj.kind}/${w.m.obj.metadata?.name}`;

/** What the ServiceMonitors scrape (prometheus-operator semantics: Services in their own namespace unless namespaceSelector says otherwise). */
export function serviceMonitorTargets(bundle: DeployBundle): ScrapeTarget[] {
  const out: ScrapeTarget[] = [];
  for (const sm of objectsOfKind(bundle, "ServiceMonitor")) {
    const namespaces = sm.obj.spec?.namespaceSelector?.matchNames ?? [namespaceOf(sm)];
    for (const svc of objectsOfKind(bundle, "Service")) {
      const namespace = namespaceOf(svc);
      if (!namespaces.includes(namespace) || !selectorMatches(labelSelector(sm.obj), svc.obj.metadata?.labels)) continue;
      for (const ep of sm.obj.spec?.endpoints ?? []) {
        const sp = (svc.obj.spec?.ports ?? []).find((p) => p.name === ep.port);
        for (const w of sp ? selectedWorkloads(bundle, svc) : []) {
          const reaches = servicePortTarget(w.pod, sp!)?.port.name ?? String(sp!.targetPort);
          out.push({ service: svc.obj.metadata!.name!, namespace, port: ep.port!, workload: workloadName(w), reaches });
        }
      }
    }
  }
  return out;
}

/** The ServiceMonitor scrapes /metrics on the port named metrics of every pod that declares one, exactly once. */
export function checkServiceMonitor(bundle: DeployBundle): string[] {
  const sms = objectsOfKind(bundle, "ServiceMonitor");
  if (sms.length === 0) return ["no ServiceMonitor under deploy/k8s"];
  const problems = sms.flatMap((sm) =>
    (sm.obj.spec?.endpoints ?? [])
      .filter((ep) => ep.path && ep.path !== "/metrics")
      .map((ep) => `${where(sm)}: endpoint path ${ep.path}; the services serve /metrics`),
  );
  const targets = serviceMonitorTargets(bundle);
  for (const w of workloads(bundle).filter((w) => resolveContainerPort(w.pod, "metrics"))) {
    const hits = targets.filter((t) => t.workload === workloadName(w) && t.namespace === w.namespace);
    if (hits.length !== 1)
      problems.push(`ServiceMonitor: ${where(w.m)}'s metrics port is scraped ${hits.length} times (${hits.map(key).join("; ") || "never"}); expected once`);
  }
  for (const t of targets)
    if (t.reaches !== "metrics") problems.push(`ServiceMonitor: scrapes ${key(t)}, which reaches container port ${t.reaches}, not the metrics port`);
  return problems;
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
