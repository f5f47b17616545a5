import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkServiceMonitor, serviceMonitorTargets } from "./monitoring.ts";
import { assertProblem, bundle, obj, RENDER_SKIP } from "./test/helpers.ts";

describe("ServiceMonitor", { skip: RENDER_SKIP }, () => {
  it("scrapes the metrics port of every pod once", () => {
    const b = bundle();
    assert.deepEqual(checkServiceMonitor(b), []);
    const scraped = serviceMonitorTargets(b)
      .map((t) => `${t.service}→${t.workload}`)
      .sort();
    assert.deepEqual(scraped, [
      "judge→Deployment/judge",
      "orchestrator-grpo-1→Job/orchestrator-grpo-1",
      "policy-grpo-1→Deployment/policy-grpo-1",
      "reference-grpo-1→Deployment/reference-grpo-1",
    ]);
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
    assertProblem(problems, /Deployment\/policy-grpo-1's metrics port is scraped 0 times \(never\)/);
  });

  it("a Service port named metrics must reach the container's metrics port", () => {
    const b = bundle();
    obj(b, "Service", "reference-grpo-1").spec!.ports!.find((p) => p.name === "metrics")!.targetPort = "grpc";
    assertProblem(
      checkServiceMonitor(b),
      /scrapes grpomesh\/reference-grpo-1:metrics → Deployment\/reference-grpo-1, which reaches container port grpc, not the metrics port/,
    );
  });
});
