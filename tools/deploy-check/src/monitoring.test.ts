import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkScrapeConfig, checkServiceMonitor, relabel, scrapeConfigTargets, serviceMonitorTargets } from "./monitoring.ts";
import { assertProblem, bundle, obj } from "./test/helpers.ts";

describe("ServiceMonitor", () => {
  it("scrapes the metrics port of every pod once", () => {
    const b = bundle();
    assert.deepEqual(checkServiceMonitor(b), []);
    const scraped = serviceMonitorTargets(b)
      .map((t) => `${t.service}→${t.workload}`)
      .sort();
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
    assertProblem(
      checkServiceMonitor(b),
      /scrapes grpomesh\/reference:metrics → Deployment\/reference, which reaches container port grpc, not the metrics port/,
    );
  });
});

describe("plain Prometheus scrape config", () => {
  it("keeps the same targets as the ServiceMonitor, labelled with namespace and pod", () => {
    const b = bundle();
    assert.deepEqual(checkScrapeConfig(b), []);
    const { targets } = scrapeConfigTargets(b);
    assert.deepEqual(
      targets.map((t) => `${t.service}→${t.workload}`).sort(),
      serviceMonitorTargets(b)
        .map((t) => `${t.service}→${t.workload}`)
        .sort(),
    );
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
    assert.deepEqual(relabel(labels, [{ source_labels: ["__meta_a", "__meta_b"], regex: "(.*);(.*)", replacement: "$2-$1", target_label: "ab" }]), {
      ...labels,
      ab: "y-x",
    });
    assert.throws(() => relabel(labels, [{ action: "hashmod" }]), /hashmod is not simulated/);
  });
});
