// What `kubectl apply -k` would send, rendered by real kustomize: every overlay, and an overlay with
// runs that deploy/scripts/new-run.ts wrote (shared judges and their own), pass every check; runs
// coexist in one namespace (no name shared, selectors disjoint, their own run directories, each
// orchestrator dialling its own Services and its judges); new-run refuses what would not work.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadBundle, overlayDir, parseYamlDocuments, REPO_ROOT, type DeployBundle } from "./bundle.ts";
import { checkAll } from "./index.ts";
import { labelSelector, objectsOfKind, selectedWorkloads, selectorMatches, workloads, type K8sObject } from "./k8s.ts";
import { OVERLAYS, renderKustomization } from "./kustomize.ts";
import { newRunMain, runFiles, writeRun, NEW_RUN_SETTINGS, type NewRunOptions } from "./runs.ts";
import { containerCommands, parseServiceSettings } from "./services.ts";
import { defaults } from "@grpomesh/config";
import { RENDER_SKIP } from "./test/helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "deploy-check-runs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const options = (name: string, more: Partial<NewRunOptions> = {}): NewRunOptions => ({ ...defaults(NEW_RUN_SETTINGS), name, set: [], ...more });

/** Every check's problems, as one list naming the check. */
const problemsOf = (b: DeployBundle) => Object.entries(checkAll(b)).flatMap(([check, problems]) => problems.map((p) => `${check}: ${p}`));

/** The orchestrator's parsed flags in a bundle, by Job name. */
function orchestratorConfig(b: DeployBundle, job: string): Record<string, unknown> {
  const cc = containerCommands(b).find((c) => c.service === "orchestrator" && c.w.m.obj.metadata?.name === job);
  assert.ok(cc, `no Job/${job}`);
  const s = parseServiceSettings(b, cc);
  assert.ok(!Array.isArray(s), String(s));
  return s.config;
}

describe("every overlay, rendered by kustomize", { skip: RENDER_SKIP }, () => {
  for (const variant of OVERLAYS) {
    it(`${variant}: every object passes the schema, unknown-field and every other check`, () => {
      const b = loadBundle(REPO_ROOT, [overlayDir(variant)]);
      assert.ok(b.manifests.length > 25, `${variant} renders only ${b.manifests.length} objects`);
      assert.deepEqual(problemsOf(b), []);
    });
  }

  it("the GPU overlays put exactly the GPU roles on GPUs, on the WebGPU provider", () => {
    const gpuRoles = (variant: (typeof OVERLAYS)[number]) =>
      containerCommands(loadBundle(REPO_ROOT, [overlayDir(variant)]))
        .filter((c) => c.service)
        .map((c) => {
          const gpu = c.container.resources?.limits?.["nvidia.com/gpu"];
          const capabilities = c.container.env?.find((e) => e.name === "NVIDIA_DRIVER_CAPABILITIES")?.value;
          return `${c.service}:${c.flags.find((f) => f.startsWith("--execution_provider="))?.split("=")[1] ?? "-"}:${gpu ?? 0}:${capabilities ?? "-"}`;
        })
        .sort();
    assert.deepEqual(gpuRoles("cpu"), ["judge:cpu:0:-", "orchestrator:-:0:-", "policy:cpu:0:-", "reference:cpu:0:-"]);
    const graphics = "compute,utility,graphics";
    assert.deepEqual(gpuRoles("gpu"), ["judge:cpu:0:-", "orchestrator:-:0:-", `policy:webgpu:1:${graphics}`, `reference:webgpu:1:${graphics}`]);
    assert.deepEqual(gpuRoles("gpu-judges"), [
      `judge:webgpu:1:${graphics}`,
      "orchestrator:-:0:-",
      `policy:webgpu:1:${graphics}`,
      `reference:webgpu:1:${graphics}`,
    ]);
  });

  it("a component patch that finds the arguments reordered fails the render instead of patching the wrong one", () => {
    // A copy of deploy/k8s whose policy puts another flag first: the gpu component's `test` op refuses it.
    const root = mkdtempSync(join(dir, "reordered-"));
    cpSync(join(REPO_ROOT, "deploy/k8s"), join(root, "deploy/k8s"), { recursive: true });
    const file = join(root, "deploy/k8s/components/run/policy.yaml");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace("- --execution_provider=cpu\n", "- --checkpoint_root=/runs\n            - --execution_provider=cpu\n"),
    );
    assert.throws(() => renderKustomization(root, overlayDir("gpu")), /kubectl kustomize deploy\/k8s\/overlays\/gpu failed: .*test/i);
    assert.doesNotThrow(() => renderKustomization(root, overlayDir("cpu")));
  });
});

describe("runs made by new-run.ts, beside the cpu overlay", { skip: RENDER_SKIP }, () => {
  let b: DeployBundle;
  before(() => {
    const shared = writeRun(REPO_ROOT, options("exp-a", { out: join(dir, "exp-a"), set: ["max_iters=5", "kl_beta=0.02"] }));
    const own = writeRun(REPO_ROOT, options("exp-b", { out: join(dir, "exp-b"), own_judges: true, variant: "gpu-judges", nvidia_runtime: true }));
    b = loadBundle(REPO_ROOT, [overlayDir("cpu"), shared, own]);
  });

  it("pass every check together with the overlay's run", () => {
    assert.deepEqual(problemsOf(b), []);
    const names = b.manifests.map((m) => `${m.obj.kind}/${m.obj.metadata?.namespace ?? ""}/${m.obj.metadata?.name}`);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
      "no two objects share a kind, namespace and name",
    );
  });

  it("each orchestrator dials its own run's Services, writes its own run directory, and reads its own run.json", () => {
    const runs = ["grpo-1", "exp-a", "exp-b"].map((run) => ({ run, c: orchestratorConfig(b, `orchestrator-${run}`) }));
    for (const { run, c } of runs) {
      assert.equal(c.policy, `policy-${run}:50071`);
      assert.equal(c.reference, `reference-${run}:50072`);
      assert.equal(c.run_dir, `/runs/${run}`);
      assert.deepEqual([c.policy_tls_name, c.reference_tls_name, c.judges_tls_name], ["policy", "reference", "judge-headless"]);
    }
    const [grpo1, a, bb] = runs.map((r) => r.c);
    assert.equal(grpo1!.judges, "dns:///judge-headless.grpomesh.svc.cluster.local:50051", "the overlay's run uses the shared fleet");
    assert.equal(a!.judges, "dns:///judge-headless.grpomesh.svc.cluster.local:50051", "a run without --own_judges uses the shared fleet");
    assert.equal(bb!.judges, "dns:///judge-headless-exp-b.grpomesh.svc.cluster.local:50051", "--own_judges: the run's own fleet");
    assert.deepEqual([a!.max_iters, a!.kl_beta, grpo1!.max_iters, grpo1!.kl_beta], [5, 0.02, 1000, 0.1], "--set lands in the run's own run.json only");
  });

  it("selectors are disjoint: every Service, PDB and workload selects one workload's pods, the shared and the own judge fleets apart", () => {
    const all = workloads(b).filter((w) => w.m.obj.kind !== "Pod");
    for (const svc of objectsOfKind(b, "Service")) {
      const selected = selectedWorkloads(b, svc).filter((w) => w.m.obj.kind !== "Pod");
      assert.equal(selected.length, 1, `Service/${svc.obj.metadata?.name} selects ${selected.map((w) => w.m.obj.metadata?.name).join(", ")}`);
    }
    for (const m of [...objectsOfKind(b, "PodDisruptionBudget"), ...objectsOfKind(b, "Deployment")]) {
      const selected = all.filter((w) => selectorMatches(labelSelector(m.obj), w.pod.metadata?.labels));
      assert.equal(selected.length, 1, `${m.obj.kind}/${m.obj.metadata?.name} selects ${selected.map((w) => w.m.obj.metadata?.name).join(", ")}`);
    }
    const fleets = objectsOfKind(b, "Service")
      .filter((s) => s.obj.spec?.clusterIP === "None")
      .map((s) => `${s.obj.metadata?.name}→${selectedWorkloads(b, s).map((w) => w.m.obj.metadata?.name)}`)
      .sort();
    assert.deepEqual(fleets, ["judge-headless-exp-b→judge-exp-b", "judge-headless→judge"]);
    const hpas = objectsOfKind(b, "HorizontalPodAutoscaler").map((h) => `${h.obj.metadata?.name}→${h.obj.spec?.scaleTargetRef?.name}`);
    assert.deepEqual(hpas.sort(), ["judge-exp-b→judge-exp-b", "judge→judge"]);
  });

  it("the own fleet's judges, policy and reference of exp-b run on GPUs with the nvidia runtime; exp-a stays on CPUs", () => {
    const placed = workloads(b)
      .filter((w) => /-(exp-a|exp-b)$/.test(w.m.obj.metadata?.name ?? "") && w.m.obj.kind === "Deployment")
      .map((w) => `${w.m.obj.metadata?.name}:${w.pod.spec?.runtimeClassName ?? "-"}:${w.pod.spec?.containers?.[0]?.resources?.limits?.["nvidia.com/gpu"] ?? 0}`)
      .sort();
    assert.deepEqual(placed, ["judge-exp-b:nvidia:1", "policy-exp-a:-:0", "policy-exp-b:nvidia:1", "reference-exp-a:-:0", "reference-exp-b:nvidia:1"]);
  });

  it("a run made for grpo-1 renders exactly as the repository's deploy/k8s/runs/grpo-1", () => {
    const made = writeRun(REPO_ROOT, options("grpo-1", { out: join(dir, "grpo-1") }));
    // run.json compared as JSON (new-run writes 1e-5 as 0.00001).
    const objects = (path: string) =>
      parseYamlDocuments(renderKustomization(REPO_ROOT, path), path).map(({ value }) => {
        const o = value as K8sObject;
        return o.data?.["run.json"] ? { ...o, data: { ...o.data, "run.json": JSON.parse(o.data["run.json"]) as unknown } } : o;
      });
    assert.deepEqual(objects(made), objects("deploy/k8s/runs/grpo-1"));
  });
});

describe("new-run.ts refuses what would not work", () => {
  const refused = (argv: string[]) => {
    const errors: string[] = [];
    const code = newRunMain(
      argv,
      () => {},
      (l) => errors.push(l),
    );
    return { code, error: errors.join("\n") };
  };

  it("names that are not DNS labels, or too long for the run's Service names", () => {
    assert.match(refused(["Grpo_2", `--out=${join(dir, "x1")}`]).error, /run name "Grpo_2" is not a DNS label starting with a letter/);
    assert.match(refused(["2run", `--out=${join(dir, "x2")}`]).error, /not a DNS label starting with a letter/);
    assert.match(refused(["a".repeat(49), `--out=${join(dir, "x3")}`]).error, /49 characters; at most 48, so that judge-headless-a+ is a valid Service name/);
    assert.match(refused([`--out=${join(dir, "x4")}`]).error, /give the run's NAME/);
    assert.equal(refused(["Grpo_2"]).code, 2);
  });

  it("--set keys and values the orchestrator would refuse, and keys the Job sets itself", () => {
    assert.match(refused(["r", "--set", "kl_bta=0.1"]).error, /--set kl_bta=0\.1: unknown key kl_bta; did you mean kl_beta\?/);
    assert.match(refused(["r", "--set=kl_beta=lots"]).error, /--set kl_beta=lots: key kl_beta is "lots"; expected a number/);
    assert.match(refused(["r", "--set", "run_dir=/runs/other"]).error, /the run's Job passes --run_dir itself/);
    assert.match(refused(["r", "--set", "policy=elsewhere:1"]).error, /the run's Job passes --policy itself/);
    assert.match(refused(["r", "--set", "max_iters"]).error, /--set max_iters: expected key=value/);
  });

  it("variants that do not fit, and a folder in use", () => {
    assert.match(refused(["r", "--variant=gpu-judges"]).error, /--variant=gpu-judges puts the run's own judges on GPUs.*add --own_judges/);
    assert.match(refused(["r", "--nvidia_runtime"]).error, /--variant=cpu has none/);
    assert.match(refused(["r", "--variant=tpu"]).error, /--variant is "tpu"; expected one of cpu, gpu, gpu-judges/);
    const out = join(dir, "used");
    assert.equal(
      newRunMain(
        ["used", `--out=${out}`],
        () => {},
        () => {},
      ),
      0,
    );
    const again = refused(["used", `--out=${out}`]);
    assert.equal(again.code, 1);
    assert.match(again.error, /is not empty; give a new or empty --out folder/);
  });

  it("writes run.json as the orchestrator parses it, relative component paths from wherever the folder is", () => {
    const files = runFiles(REPO_ROOT, join(REPO_ROOT, "deploy/runs/r"), options("r", { set: ["learning_rate=3e-6"] }));
    assert.equal((JSON.parse(files["config/run.json"]!) as { learning_rate: number }).learning_rate, 3e-6);
    assert.match(files["kustomization.yaml"]!, /^ {2}- \.\.\/\.\.\/k8s\/components\/run$/m);
    assert.match(files["kustomization.yaml"]!, /^nameSuffix: -r$/m);
  });
});
