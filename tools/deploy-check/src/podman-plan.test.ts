import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import type { K8sObject } from "./k8s.ts";
import { REPO_ROOT } from "./bundle.ts";
import { renderKustomization } from "./kustomize.ts";
import { expandVars, planForPodman, replicaOf } from "./podman-plan.ts";
import { parseBytes } from "./host.ts";
import { parsePercent } from "./podman-play.ts";
import { RENDER_SKIP, RUN } from "./test/helpers.ts";

const opts = { volumePrefix: "gp-", secretsDir: "/tmp/gp-secrets" };

function rendered(): K8sObject[] {
  return parseAllDocuments(renderKustomization(REPO_ROOT, "deploy/k8s/overlays/cpu"))
    .map((d) => d.toJS() as K8sObject)
    .filter(Boolean);
}

describe("expandVars", () => {
  it("expands $(NAME) from the env as the kubelet does; $$ escapes, unknown names stay", () => {
    assert.equal(expandVars("--policy=policy-$(RUN):50071", { RUN: "r1" }), "--policy=policy-r1:50071");
    assert.equal(expandVars("$(A)$(B)-$(NOPE)-$$(A)", { A: "x", B: "y" }), "xy-$(NOPE)-$(A)");
  });
});

describe("parsePercent, parseBytes", () => {
  it("read podman stats' and buildah images' values", () => {
    assert.equal(parsePercent("12.5%"), 12.5);
    assert.ok(Number.isNaN(parsePercent("--")));
    assert.equal(parseBytes("123.4MB"), 123.4e6);
    assert.equal(parseBytes("247 MB"), 247e6);
    assert.equal(parseBytes("1.5GiB"), 1.5 * 1024 ** 3);
    assert.equal(parseBytes("512 kB"), 512e3);
    assert.ok(Number.isNaN(parseBytes("12 parsecs")));
  });
});

describe("planForPodman on the cpu overlay", { skip: RENDER_SKIP }, () => {
  it("runs every workload, turns Services into aliases, Jobs into Pods, and skips what podman cannot express", () => {
    const plan = planForPodman(rendered(), opts);
    assert.deepEqual(plan.units.map((u) => u.source).sort(), [
      "Deployment/judge",
      `Deployment/policy-${RUN}`,
      `Deployment/reference-${RUN}`,
      `Job/orchestrator-${RUN}`,
    ]);
    const judge = plan.units.find((u) => u.name === "judge")!;
    assert.ok(
      judge.aliases.includes("judge-headless") && judge.aliases.includes(`judge-headless.${plan.namespace}.svc.cluster.local`),
      judge.aliases.join(","),
    );
    const orch = plan.units.find((u) => u.kind === "Job")!;
    assert.equal(orch.object.kind, "Pod");
    assert.equal((orch.object.spec as { restartPolicy?: string }).restartPolicy, "Never");
    const skippedKinds = new Set(plan.skipped.map((s) => s.object.split("/")[0]));
    for (const k of ["NetworkPolicy", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"])
      assert.ok(skippedKinds.has(k), `${k} not listed as skipped`);
    assert.deepEqual(plan.volumes, { "model-store": "gp-model-store", runs: "gp-runs" });
  });

  it("expands the orchestrator's $(VAR) args, resolves the namespace, and mounts Secrets from folders", () => {
    const plan = planForPodman(rendered(), opts);
    const orch = plan.units.find((u) => u.kind === "Job")!;
    const spec = orch.object.spec as {
      containers: Array<{ args: string[]; env: Array<{ name: string; value?: string; valueFrom?: unknown }> }>;
      volumes: Array<Record<string, unknown>>;
    };
    const args = spec.containers[0]!.args;
    assert.ok(args.includes(`--policy=policy-${RUN}:50071`), args.join(" "));
    assert.ok(args.includes(`--run_dir=/runs/${RUN}`), args.join(" "));
    assert.ok(
      args.some((a) => a === `--judges=dns:///judge-headless.${plan.namespace}.svc.cluster.local:50051`),
      args.join(" "),
    );
    assert.ok(!args.some((a) => a.includes("$(")), `unexpanded: ${args.join(" ")}`);
    assert.deepEqual(
      spec.containers[0]!.env.find((e) => e.name === "POD_NAMESPACE"),
      { name: "POD_NAMESPACE", value: plan.namespace },
    );
    const tls = spec.volumes.find((v) => v.name === "tls")!;
    assert.deepEqual(tls.hostPath, { path: `/tmp/gp-secrets/orchestrator-${RUN}-tls`, type: "Directory" });
    assert.equal(tls.secret, undefined);
    assert.deepEqual(
      orch.secretMounts.map((m) => m.secretName),
      ["orchestrator-tls", "admin-token"],
    );
    assert.equal((spec.containers[0] as { ports?: unknown }).ports, undefined, "ports are not published on the host");
    const runs = spec.volumes.find((v) => v.name === "runs")!;
    assert.deepEqual(runs.persistentVolumeClaim, { claimName: "gp-runs" });
  });

  it("the swap-judge Job: env values that use earlier ones are expanded in the env and in the args", () => {
    const ops = parseAllDocuments(readFileSync(join(REPO_ROOT, "deploy/k8s/ops/swap-judge.yaml"), "utf8"))
      .map((d) => d.toJS() as K8sObject)
      .filter(Boolean);
    const swap = planForPodman([...rendered(), ...ops], opts).units.find((u) => u.name === "swap-judge")!;
    const c = (swap.object.spec as { containers: Array<{ args: string[]; env: Array<{ name: string; value?: string }> }> }).containers[0]!;
    assert.equal(c.env.find((e) => e.name === "LABEL")?.value, "judge-v2");
    assert.ok(c.args.includes("--version=judge-v2") && c.args.includes("judge/2/model.onnx"), c.args.join(" "));
  });

  it("an extra judge replica is the same pod under another name", () => {
    const plan = planForPodman(rendered(), opts);
    const judge = plan.units.find((u) => u.name === "judge")!;
    const r2 = replicaOf(judge, 2);
    assert.equal(r2.name, "judge-r2");
    assert.equal(r2.object.metadata?.name, "judge-r2");
    assert.deepEqual(r2.aliases, judge.aliases);
    assert.deepEqual((r2.object.spec as { template: unknown }).template, (judge.object.spec as { template: unknown }).template);
    assert.throws(
      () =>
        replicaOf(
          plan.units.find((u) => u.kind === "Job")!,
          2,
        ),
      /only Deployments/,
    );
  });
});
