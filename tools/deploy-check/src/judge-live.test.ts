import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startJudgeServer, type JudgeServer } from "@grpomesh/judge";
import { checkHealth } from "@grpomesh/rpc";
import { healthcheckProbe } from "./credentials.ts";
import { workloads } from "./k8s.ts";
import { adapterMetrics, checkAutoscalerMetrics } from "./monitoring.ts";
import { containerCommands } from "./services.ts";
import { assertProblem, bundle, obj, RENDER_SKIP } from "./test/helpers.ts";

// A real judge process's servers (in-process, no model needed) say which metric series it exports
// and which health service names its probes may ask for.
describe("a running judge", { skip: RENDER_SKIP }, () => {
  let judge: JudgeServer;
  let exportedNames: Set<string>;
  before(async () => {
    judge = await startJudgeServer({ address: "127.0.0.1:0", metrics_port: 0, metrics_host: "127.0.0.1", sessions: 1, log: () => {} });
    const text = await (await fetch(`http://127.0.0.1:${judge.metricsPort}/metrics`)).text();
    exportedNames = new Set(
      text
        .split("\n")
        .filter((l) => l.startsWith("# TYPE "))
        .map((l) => l.split(" ")[2]!),
    );
  });
  after(async () => {
    await judge.shutdown(1000);
  });
  const exported = (series: string, workload: string) => workload === "judge" && exportedNames.has(series);

  it("the HPA's Pods metric is served by the adapter rule and exported by the judge", () => {
    const b = bundle();
    assert.ok(exportedNames.has("judge_pending_sequences"), `the judge exports ${[...exportedNames].join(", ")}`);
    assert.deepEqual(
      adapterMetrics(b).map((m) => m.name),
      ["judge_pending_sequences"],
    );
    assert.deepEqual(checkAutoscalerMetrics(b, exported), []);
  });

  it("a metric the adapter does not serve is caught", () => {
    const b = bundle();
    obj(b, "HorizontalPodAutoscaler", "judge").spec!.metrics![0]!.pods!.metric!.name = "judge_queue_depth";
    assertProblem(
      checkAutoscalerMetrics(b, exported),
      /scales on Pods metric judge_queue_depth, which no rule of deploy\/prometheus\/adapter-rules\.yaml serves/,
    );
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

  it("every health probe (gRPC, or healthcheck.mjs in an exec probe) asks for a health service name its server registers", async () => {
    const b = bundle();
    const commands = containerCommands(b);
    const probes: Array<{ service: string; name: string; at: string }> = [];
    for (const w of workloads(b)) {
      for (const c of w.pod.spec?.containers ?? []) {
        const service = commands.find((x) => x.w.m === w.m && x.container.name === c.name)?.service ?? "?";
        for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
          if (probe?.grpc) probes.push({ service, name: probe.grpc.service ?? "", at: `${w.m.file} ${c.name}` });
          const hc = probe && healthcheckProbe(probe);
          if (hc) probes.push({ service, name: hc.service, at: `${w.m.file} ${c.name}` });
        }
      }
    }
    assert.ok(
      probes.some((p) => p.service === "judge" && p.name === "grpomesh.v1.JudgeService"),
      "the judge's readiness probe names its service",
    );
    for (const p of probes) {
      // "" is registered by every service (libs/rpc startServer); named ones are checked against the live judge.
      if (p.name === "") continue;
      assert.equal(p.service, "judge", `${p.at}: probe asks for ${p.name}; only the judge is checked live here, extend this test for ${p.service}`);
      assert.equal(await checkHealth(judge.address, p.name), "NOT_SERVING", `${p.at}: ${p.name} is not a health service name of the judge`);
    }
    await assert.rejects(checkHealth(judge.address, "grpomesh.v1.JudgeServce"), /NOT_FOUND|unknown/i, "an unknown name must fail, or this test proves nothing");
  });
});
