import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startJudgeServer, type JudgeServer } from "@grpomesh/judge";
import { adapterMetrics, checkAutoscalerMetrics, checkScrapeConfig, checkServiceMonitor, relabel, scrapeConfigTargets, serviceMonitorTargets } from "./monitoring.ts";
import { assertProblem, bundle, obj } from "./test/helpers.ts";

describe("ServiceMonitor", () => {
  it("scrapes the metrics port of every pod once", () => {
    const b = bundle();
    assert.deepEqual(checkServiceMonitor(b), []);
    const scraped = serviceMonitorTargets(b).map((t) => `${t.service}→${t.workload}`).sort();
    assert.deepEqual(scraped, ["judge→Deployment/judge", "orchestrator→Job/orchestrator", "policy→Deployment/policy", "reference→Deployment/reference"]);
  });

  it("a judge pod behind two scraped Services would be scraped twice", () => {
    const b = bundle();
    obj(b, "Service", "judge-headless").spec!.ports!.push({ name: "metrics", port: 9464, targetPort: "metrics" });
    assertProblem(checkServiceMonitor(b), /Deployment\/judge's metrics port is scraped 2 times/);
  });

  it("an endpoint port no Service has scrapes nothing", () => {
    const b = bundle();
    obj(b, "ServiceMonitor", "grpomesh").spec!.endpoints![0]!.port = "http-metrics";
    const problems = checkServiceMonitor(b);
    assertProblem(problems, /Deployment\/policy's metrics port is scraped 0 times \(never\)/);
  });

  it("a Service port named metrics must reach the container's metrics port", () => {
    const b = bundle();
    obj(b, "Service", "reference").spec!.ports!.find((p) => p.name === "metrics")!.targetPort = "grpc";
    assertProblem(checkServiceMonitor(b), /scrapes grpomesh\/reference:metrics → Deployment\/reference, which reaches container port grpc, not the metrics port/);
  });
});

describe("plain Prometheus scrape config", () => {
  it("keeps the same targets as the ServiceMonitor, labelled with namespace and pod", () => {
    const b = bundle();
    assert.deepEqual(checkScrapeConfig(b), []);
    const { targets } = scrapeConfigTargets(b);
    assert.deepEqual(targets.map((t) => `${t.service}→${t.workload}`).sort(), serviceMonitorTargets(b).map((t) => `${t.service}→${t.workload}`).sort());
    for (const t of targets) assert.equal(t.labels.namespace, "grpomesh");
  });

  it("a keep rule that lets the gRPC ports through is caught", () => {
    const b = bundle();
    const job = (b.scrapeConfig as { scrape_configs: Array<{ relabel_configs: Array<{ regex?: string }> }> }).scrape_configs[0]!;
    job.relabel_configs[1]!.regex = "metrics|grpc";
    assertProblem(checkScrapeConfig(b), /reaches container port grpc, not the metrics port/);
  });

  it("without the pod label the autoscaler's metric has no pods", () => {
    const b = bundle();
    const job = (b.scrapeConfig as { scrape_configs: Array<{ relabel_configs: Array<{ target_label?: string }> }> }).scrape_configs[0]!;
    job.relabel_configs = job.relabel_configs.filter((r) => r.target_label !== "pod");
    assertProblem(checkScrapeConfig(b), /get no pod label; prometheus-adapter maps metrics to pods/);
  });

  it("watching another namespace finds nothing", () => {
    const b = bundle();
    const job = (b.scrapeConfig as { scrape_configs: Array<{ kubernetes_sd_configs: Array<{ namespaces: { names: string[] } }> }> }).scrape_configs[0]!;
    job.kubernetes_sd_configs[0]!.namespaces.names = ["monitoring"];
    assertProblem(checkScrapeConfig(b), /Deployment\/judge's metrics port is scraped 0 times/);
  });
});

describe("relabel", () => {
  it("keeps, drops and replaces like Prometheus (anchored regex, ; separator, $1)", () => {
    const labels = { __meta_a: "x", __meta_b: "y" };
    assert.equal(relabel(labels, [{ source_labels: ["__meta_a"], regex: "x|z", action: "keep" }])?.__meta_a, "x");
    assert.equal(relabel(labels, [{ source_labels: ["__meta_a"], regex: "xx?y", action: "keep" }]), null, "regex is anchored");
    assert.equal(relabel(labels, [{ source_labels: ["__meta_a"], regex: "x", action: "drop" }]), null);
    assert.deepEqual(relabel(labels, [{ source_labels: ["__meta_a", "__meta_b"], regex: "(.*);(.*)", replacement: "$2-$1", target_label: "ab" }]), { ...labels, ab: "y-x" });
    assert.throws(() => relabel(labels, [{ action: "hashmod" }]), /hashmod is not simulated/);
  });
});

describe("judge autoscaler metric", () => {
  // A real judge (no model needed) says which series it exports.
  let judge: JudgeServer;
  let exportedNames: Set<string>;
  before(async () => {
    judge = await startJudgeServer({ address: "127.0.0.1:0", metricsPort: 0, metricsHost: "127.0.0.1", sessions: 1, log: () => {} });
    const text = await (await fetch(`http://127.0.0.1:${judge.metricsPort}/metrics`)).text();
    exportedNames = new Set(text.split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]!));
  });
  after(async () => {
    await judge.shutdown(1000);
  });
  const exported = (series: string, workload: string) => workload === "judge" && exportedNames.has(series);

  it("the HPA's Pods metric is served by the adapter rule and exported by the judge", () => {
    const b = bundle();
    assert.ok(exportedNames.has("judge_pending_sequences"), `the judge exports ${[...exportedNames].join(", ")}`);
    assert.deepEqual(adapterMetrics(b).map((m) => m.name), ["judge_pending_sequences"]);
    assert.deepEqual(checkAutoscalerMetrics(b, exported), []);
  });

  it("a metric the adapter does not serve is caught", () => {
    const b = bundle();
    obj(b, "HorizontalPodAutoscaler", "judge").spec!.metrics![0]!.pods!.metric!.name = "judge_queue_depth";
    assertProblem(checkAutoscalerMetrics(b, exported), /scales on Pods metric judge_queue_depth, which no rule of deploy\/prometheus\/adapter-rules\.yaml serves/);
  });

  it("a rule over a series the judge does not export is caught", () => {
    const b = bundle();
    const rule = (b.adapterRules as { rules: { custom: Array<{ seriesQuery: string }> } }).rules.custom[0]!;
    rule.seriesQuery = rule.seriesQuery.replace("judge_pending_sequences", "judge_pending_requests");
    (b.adapterRules as { rules: { custom: Array<{ name: { matches: string } }> } }).rules.custom[0]!.name.matches = "^judge_pending_requests$";
    assertProblem(checkAutoscalerMetrics(b, exported), /scales on series judge_pending_requests, which judge does not export/);
  });

  it("a rule without namespace and pod resources is caught", () => {
    const b = bundle();
    delete (b.adapterRules as { rules: { custom: Array<{ resources?: unknown }> } }).rules.custom[0]!.resources;
    assertProblem(checkAutoscalerMetrics(b, exported), /must map label namespace to resource namespace and pod to pod/);
  });
});
