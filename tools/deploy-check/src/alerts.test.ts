// The alert rules and the Grafana dashboard as shipped: promtool checks the rules and runs their
// unit tests (deploy/prometheus/alerts.test.yaml), the PrometheusRule carries the same groups, and
// the dashboard file is what its panel table writes. (prometheus-live.test.ts runs the queries.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { DASHBOARD_FILE, dashboardJson, dashboardQueries, dashboardText } from "./dashboard.ts";
import { needsPrometheus, promtool } from "./test/prometheus.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const RULES = join(ROOT, "deploy/prometheus/alerts.yaml");
const ALERTS = ["GrpoNoStep", "GrpoKlHigh", "GrpoZeroVarianceGroups", "GrpoJudgeFailures", "GrpoNoJudgeReady"];

test("the PrometheusRule holds exactly the rules file's groups, and every alert the docs promise", () => {
  const plain = parse(readFileSync(RULES, "utf8")) as { groups: Array<{ rules: Array<{ alert: string }> }> };
  const docs = parseAllDocuments(readFileSync(join(ROOT, "deploy/k8s/monitoring/prometheusrule.yaml"), "utf8")).map((d) => d.toJS());
  assert.equal(docs.length, 1);
  assert.equal(docs[0].kind, "PrometheusRule");
  assert.deepEqual(docs[0].spec.groups, plain.groups, "deploy/k8s/monitoring/prometheusrule.yaml differs from deploy/prometheus/alerts.yaml");
  assert.deepEqual(plain.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort(), [...ALERTS].sort());
  assert.match(readFileSync(join(ROOT, "deploy/k8s/monitoring/kustomization.yaml"), "utf8"), /- prometheusrule\.yaml/);
});

test("promtool: the rules check, and each alert's unit test passes; a broken threshold fails them", (t) => {
  if (!needsPrometheus(t)) return;
  const dir = join(ROOT, "deploy/prometheus");
  const check = promtool(["check", "rules", "alerts.yaml"], dir);
  assert.equal(check.status, 0, check.out);
  assert.match(check.out, /SUCCESS: 5 rules found/);
  const unit = promtool(["test", "rules", "alerts.test.yaml"], dir);
  assert.equal(unit.status, 0, unit.out);
  // the unit tests can fail: the same tests against rules with a KL threshold of 0.9
  const tmp = mkdtempSync(join(tmpdir(), "grpomesh-alerts-"));
  try {
    copyFileSync(join(dir, "alerts.test.yaml"), join(tmp, "alerts.test.yaml"));
    writeFileSync(join(tmp, "alerts.yaml"), readFileSync(RULES, "utf8").replace("grpo_kl_per_token > 0.5", "grpo_kl_per_token > 0.9"));
    const broken = promtool(["test", "rules", "alerts.test.yaml"], tmp);
    assert.notEqual(broken.status, 0);
    assert.match(broken.out, /GrpoKlHigh/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("the dashboard file is what its panel table writes: importable JSON, a training and a judge fleet row", () => {
  assert.equal(
    readFileSync(join(ROOT, DASHBOARD_FILE), "utf8"),
    dashboardText(),
    `${DASHBOARD_FILE} is stale: node --import tsx deploy/scripts/make-dashboard.ts`,
  );
  const d = dashboardJson() as { panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }> };
  assert.deepEqual(
    d.panels.filter((p) => p.type === "row").map((p) => p.title),
    ["Training", "Judge fleet"],
  );
  const titles = d.panels.map((p) => p.title);
  for (const want of [
    "Reward",
    "KL per token",
    "Loss",
    "Step time by phase",
    "Steps per second",
    "Policy version",
    "Judge version",
    "Throughput",
    "Score latency",
    "Pending sequences",
    "Replicas serving a model",
    "Failures by code",
    "Model swaps",
  ]) {
    assert.ok(titles.includes(want), `the dashboard has no "${want}" panel`);
  }
  assert.equal(new Set(dashboardQueries()).size, dashboardQueries().length, "a query appears twice");
});
