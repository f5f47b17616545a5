// Checks on scraping and autoscaling: the ServiceMonitor and the plain Prometheus scrape config
// each scrape every pod's metrics port exactly once, with the namespace and pod labels that
// prometheus-adapter needs; the adapter serves every Pods metric an autoscaler asks for.
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

// ---------------------------------------------------------------- plain Prometheus

interface RelabelConfig {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  action?: string;
}

interface ScrapeJob {
  job_name?: string;
  metrics_path?: string;
  kubernetes_sd_configs?: Array<{ role?: string; namespaces?: { names?: string[] } }>;
  relabel_configs?: RelabelConfig[];
}

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, "_");

/** Applies Prometheus relabel_configs (keep, drop, replace) to one target's labels; null when dropped. */
export function relabel(labels: Record<string, string>, rules: RelabelConfig[]): Record<string, string> | null {
  const out = { ...labels };
  for (const r of rules) {
    const value = (r.source_labels ?? []).map((l) => out[l] ?? "").join(r.separator ?? ";");
    const re = new RegExp(`^(?:${r.regex ?? "(.*)"})$`);
    const action = r.action ?? "replace";
    if (action === "keep" && !re.test(value)) return null;
    if (action === "drop" && re.test(value)) return null;
    if (action === "replace") {
      const m = re.exec(value);
      if (m && r.target_label) {
        const v = (r.replacement ?? "$1").replace(/\$\{?(\d+)\}?/g, (_, i: string) => m[Number(i)] ?? "");
        if (v === "") delete out[r.target_label];
        else out[r.target_label] = v;
      }
    }
    if (!["keep", "drop", "replace"].includes(action))
      throw new Error(`relabel action ${action} is not simulated by tools/deploy-check; use keep, drop or replace`);
  }
  return out;
}

/** What a kubernetes_sd "endpoints" job keeps: every Service port × selected pod, as Prometheus discovers them. */
export function scrapeConfigTargets(bundle: DeployBundle): { targets: ScrapeTarget[]; problems: string[] } {
  const cfg = bundle.scrapeConfig as { scrape_configs?: ScrapeJob[] };
  const problems: string[] = [];
  const targets: ScrapeTarget[] = [];
  const jobs = cfg?.scrape_configs ?? [];
  if (jobs.length === 0) problems.push(`deploy/prometheus/scrape-config.yaml: no scrape_configs`);
  for (const job of jobs) {
    const sds = job.kubernetes_sd_configs ?? [];
    if (!sds.some((sd) => sd.role === "endpoints")) {
      problems.push(`scrape job ${job.job_name}: needs kubernetes_sd_configs with role endpoints (a target per Service port and pod)`);
      continue;
    }
    if ((job.metrics_path ?? "/metrics") !== "/metrics")
      problems.push(`scrape job ${job.job_name}: metrics_path ${job.metrics_path}; the services serve /metrics`);
    const namespaces = sds.flatMap((sd) => sd.namespaces?.names ?? []);
    for (const svc of objectsOfKind(bundle, "Service")) {
      const ns = namespaceOf(bundle, svc);
      if (namespaces.length && !namespaces.includes(ns)) continue;
      for (const sp of svc.obj.spec?.ports ?? []) {
        for (const w of selectedWorkloads(bundle, svc)) {
          const cp = servicePortTarget(w.pod, sp);
          const meta: Record<string, string> = {
            __address__: `10.0.0.1:${cp?.port.containerPort ?? sp.port}`,
            __metrics_path__: job.metrics_path ?? "/metrics",
            job: job.job_name ?? "",
            __meta_kubernetes_namespace: ns,
            __meta_kubernetes_service_name: svc.obj.metadata!.name!,
            __meta_kubernetes_endpoint_port_name: sp.name ?? "",
            __meta_kubernetes_pod_name: `${w.m.obj.metadata?.name}-pod`,
            __meta_kubernetes_pod_container_name: cp?.container.name ?? "",
          };
          for (const [k, v] of Object.entries(svc.obj.metadata?.labels ?? {})) meta[`__meta_kubernetes_service_label_${sanitize(k)}`] = v;
          for (const [k, v] of Object.entries(w.pod.metadata?.labels ?? {})) meta[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
          const labels = relabel(meta, job.relabel_configs ?? []);
          if (labels)
            targets.push({
              service: svc.obj.metadata!.name!,
              namespace: ns,
              port: sp.name ?? String(sp.port),
              workload: workloadName(w),
              labels: Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith("__"))),
            });
        }
      }
    }
  }
  return { targets, problems };
}

export function checkScrapeConfig(bundle: DeployBundle): string[] {
  const { targets, problems } = scrapeConfigTargets(bundle);
  return [...problems, ...coverage(bundle, targets, "deploy/prometheus/scrape-config.yaml")];
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
