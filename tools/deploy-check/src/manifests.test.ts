import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadBundle, PATHS, parseYamlDocuments, yamlFiles, REPO_ROOT, YamlError } from "./bundle.ts";
import { checkAll } from "./index.ts";
import { checkSchemas, validateObject } from "./schema.ts";
import { checkPodSecurity, checkPorts, MANIFEST_CHECKS, POD_SECURITY_LABEL, selectorMatches } from "./k8s.ts";
import { assertProblem, bundle, container, obj, RENDER_SKIP } from "./test/helpers.ts";

describe("deploy/ YAML", { skip: RENDER_SKIP }, () => {
  it("every YAML file under deploy/ parses, and deploy/k8s holds the objects the deployment needs", () => {
    const files = yamlFiles(REPO_ROOT, "deploy");
    assert.ok(files.includes(PATHS.adapterRules) && files.length >= 11, `YAML files under deploy/: ${files.join(", ")}`);
    for (const file of files) assert.ok(parseYamlDocuments(readFileSync(join(REPO_ROOT, file), "utf8"), file).length > 0, `${file} holds no YAML document`);
    const b = bundle();
    const kinds = b.manifests.map((m) => `${m.obj.kind}/${m.obj.metadata?.name}`).sort();
    for (const want of [
      "Namespace/grpomesh",
      "Deployment/judge",
      "Service/judge-headless",
      "Service/judge",
      "PodDisruptionBudget/judge",
      "HorizontalPodAutoscaler/judge",
      "Deployment/policy-grpo-1",
      "Service/policy-grpo-1",
      "PodDisruptionBudget/policy-grpo-1",
      "Deployment/reference-grpo-1",
      "Service/reference-grpo-1",
      "PodDisruptionBudget/reference-grpo-1",
      "Job/orchestrator-grpo-1",
      "Service/orchestrator-grpo-1",
      "PodDisruptionBudget/orchestrator-grpo-1",
      "ConfigMap/run-config-grpo-1",
      "PriorityClass/grpomesh-training",
      "PriorityClass/grpomesh-judge",
      "PersistentVolumeClaim/model-store",
      "PersistentVolumeClaim/runs",
      "ServiceMonitor/grpomesh",
      "ServiceAccount/grpomesh",
      "NetworkPolicy/default-deny",
    ]) {
      assert.ok(kinds.includes(want), `${want} is missing from the cpu overlay's rendering (found ${kinds.join(", ")})`);
    }
  });

  it("a document that does not parse is refused with its file and position", () => {
    assert.throws(
      () => parseYamlDocuments("a: 1\n---\nkind: [unclosed\n", "x.yaml"),
      (err: unknown) => err instanceof YamlError && /x\.yaml: document 2/.test((err as Error).message),
    );
    assert.throws(() => parseYamlDocuments("a: 1\na: 2\n", "dup.yaml"), /dup\.yaml: document 1/);
  });

  it("every manifest check passes on the repository", () => {
    const b = bundle();
    for (const [name, check] of Object.entries(MANIFEST_CHECKS)) assert.deepEqual(check(b), [], `${name} found problems`);
  });
});

describe("checkSchemas (kubernetes-models)", { skip: RENDER_SKIP }, () => {
  it("needs apiVersion and kind, and a resource the libraries know", () => {
    const b = bundle();
    delete obj(b, "Deployment", "judge").apiVersion;
    delete obj(b, "Service", "policy-grpo-1").kind;
    obj(b, "ServiceAccount", "grpomesh").kind = "ServiceAcount";
    const problems = checkSchemas(b);
    assertProblem(problems, /^deploy\/k8s\/overlays\/cpu#\d+ Deployment\/judge: no apiVersion$/);
    assertProblem(problems, /^deploy\/k8s\/overlays\/cpu#\d+ \?\/policy-grpo-1: no kind$/);
    assertProblem(problems, /ServiceAcount v1 is not a resource kubernetes-models or @kubernetes-models\/prometheus-operator knows/);
  });

  it("a wrong type or a value outside an enum is caught, with its field path", () => {
    const b = bundle();
    const judge = obj(b, "Deployment", "judge");
    (judge.spec as Record<string, unknown>).replicas = "2";
    container(b, "Deployment", "policy-grpo-1").ports![0]!.containerPort = "50051" as unknown as number;
    container(b, "Deployment", "reference-grpo-1").readinessProbe = { grpc: { port: "grpc" as unknown as number } };
    (obj(b, "ServiceMonitor", "grpomesh").spec!.endpoints![0] as Record<string, unknown>).port = 9464;
    (container(b, "Deployment", "judge") as Record<string, unknown>).imagePullPolicy = "Sometimes"; // tsc refuses it too
    const problems = checkSchemas(b);
    assertProblem(problems, /overlays\/cpu#\d+ Deployment\/judge: spec\.replicas must be integer/);
    assertProblem(problems, /Deployment\/policy-grpo-1: spec\.template\.spec\.containers\[0\]\.ports\[0\]\.containerPort must be integer/);
    assertProblem(problems, /Deployment\/reference-grpo-1: spec\.template\.spec\.containers\[0\]\.readinessProbe\.grpc\.port must be integer/);
    assertProblem(problems, /ServiceMonitor\/grpomesh: spec\.endpoints\[0\]\.port must be string/);
    assertProblem(problems, /Deployment\/judge: spec\.template\.spec\.containers\[0\]\.imagePullPolicy must be one of \["Always","IfNotPresent","Never"\]/);
  });

  it("a missing required field is caught (a container's name, a port's number, a NetworkPolicy's podSelector)", () => {
    const b = bundle();
    delete obj(b, "NetworkPolicy", "default-deny").spec!.podSelector;
    delete container(b, "Deployment", "judge").name;
    delete container(b, "Deployment", "judge").ports![0]!.containerPort;
    delete obj(b, "Service", "policy-grpo-1").spec!.ports![0]!.port;
    const problems = checkSchemas(b);
    assertProblem(problems, /Deployment\/judge: spec\.template\.spec\.containers\[0\] needs name/);
    assertProblem(problems, /Deployment\/judge: spec\.template\.spec\.containers\[0\]\.ports\[0\] needs containerPort/);
    assertProblem(problems, /Service\/policy-grpo-1: spec\.ports\[0\] needs port/);
    assertProblem(problems, /NetworkPolicy\/default-deny: spec needs podSelector/);
  });

  it("a misspelled field is caught at every depth, in core objects and in the ServiceMonitor CRD", () => {
    const b = bundle();
    (obj(b, "Deployment", "judge").metadata as Record<string, unknown>).lables = { a: "b" };
    (container(b, "Deployment", "policy-grpo-1") as Record<string, unknown>).imagePullPolicty = "Always";
    (obj(b, "Job", "orchestrator-grpo-1").spec as Record<string, unknown>).backofLimit = 3;
    (obj(b, "ServiceMonitor", "grpomesh").spec!.endpoints![0] as Record<string, unknown>).intervall = "5s";
    const problems = checkSchemas(b);
    assertProblem(problems, /Deployment\/judge: metadata\.lables is not a field of Deployment apps\/v1/);
    assertProblem(problems, /Deployment\/policy-grpo-1: spec\.template\.spec\.containers\[0\]\.imagePullPolicty is not a field of Deployment apps\/v1/);
    assertProblem(problems, /Job\/orchestrator-grpo-1: spec\.backofLimit is not a field of Job batch\/v1/);
    assertProblem(problems, /ServiceMonitor\/grpomesh: spec\.endpoints\[0\]\.intervall is not a field of ServiceMonitor monitoring\.coreos\.com\/v1/);
  });

  it("free-form maps (labels, ConfigMap data, resource quantities) are not mistaken for unknown fields", () => {
    const problems = validateObject("v1", "ConfigMap", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "x", labels: { anything: "goes" }, annotations: { "a/b": "c" } },
      data: { "any.key": "v" },
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      validateObject("v1", "Pod", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p" },
        spec: { containers: [{ name: "c", resources: { limits: { "nvidia.com/gpu": 1, cpu: "1" } } }] },
      }),
      [],
    );
  });

  it("a planted error in a copy of deploy/ is caught by the whole check, with its file and document", () => {
    const root = mkdtempSync(join(tmpdir(), "deploy-check-"));
    try {
      cpSync(join(REPO_ROOT, "deploy"), join(root, "deploy"), { recursive: true });
      for (const f of ["package.json", "package-lock.json"]) copyFileSync(join(REPO_ROOT, f), join(root, f));
      const file = join(root, PATHS.k8s, "components", "run", "policy.yaml");
      const text = readFileSync(file, "utf8");
      assert.match(text, /imagePullPolicy:/);
      assert.match(text, /replicas: 1\b/);
      writeFileSync(file, text.replace("imagePullPolicy:", "imagePullPolicty:").replace(/replicas: 1\b/, 'replicas: "one"'));
      const problems = checkAll(loadBundle(root)).checkSchemas!;
      // Found in what kustomize renders from the component, named as the run names it.
      assertProblem(problems, /^deploy\/k8s\/overlays\/cpu#\d+ Deployment\/policy-grpo-1: spec\.replicas must be integer$/);
      assertProblem(
        problems,
        /^deploy\/k8s\/overlays\/cpu#\d+ Deployment\/policy-grpo-1: spec\.template\.spec\.containers\[0\]\.imagePullPolicty is not a field/,
      );
      assert.equal(problems.length, 2, problems.join("\n"));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("checkPodSecurity", { skip: RENDER_SKIP }, () => {
  it("the namespace must enforce restricted, and every pod pass it", () => {
    const b = bundle();
    delete obj(b, "Namespace", "grpomesh").metadata!.labels![POD_SECURITY_LABEL];
    const c = container(b, "Deployment", "policy-grpo-1");
    c.securityContext = { ...c.securityContext, allowPrivilegeEscalation: true, runAsUser: 0, capabilities: { add: ["SYS_ADMIN"] } };
    obj(b, "Deployment", "judge").spec!.template!.spec!.volumes!.push({ name: "host", hostPath: { path: "/" } });
    obj(b, "Job", "orchestrator-grpo-1").spec!.template!.spec!.hostNetwork = true;
    const problems = checkPodSecurity(b);
    assertProblem(problems, /Namespace\/grpomesh: label pod-security\.kubernetes\.io\/enforce is missing; expected restricted/);
    assertProblem(problems, /Deployment\/policy-grpo-1: container policy does not set allowPrivilegeEscalation: false/);
    assertProblem(problems, /Deployment\/policy-grpo-1: container policy runs as uid 0/);
    assertProblem(problems, /Deployment\/policy-grpo-1: container policy does not drop ALL capabilities/);
    assertProblem(problems, /Deployment\/policy-grpo-1: container policy adds capability SYS_ADMIN/);
    assertProblem(problems, /Deployment\/judge: volume host is of type hostPath/);
    assertProblem(problems, /Job\/orchestrator-grpo-1: hostNetwork is true/);
    assert.equal(problems.length, 7, problems.join("\n"));
  });
});

describe("checkPorts", { skip: RENDER_SKIP }, () => {
  it("a Service whose selector matches no pods is caught", () => {
    const b = bundle();
    obj(b, "Service", "judge").spec!.selector = { "app.kubernetes.io/name": "judges", "app.kubernetes.io/part-of": "grpomesh" };
    assertProblem(checkPorts(b), /Service\/judge: selector .* matches the pods of no workload/);
  });

  it("a Service port must reach a port the selected containers declare", () => {
    const b = bundle();
    obj(b, "Service", "reference-grpo-1").spec!.ports![0]!.targetPort = "grcp";
    assertProblem(checkPorts(b), /Service\/reference-grpo-1: port grpc targets grcp, which .*Deployment\/reference-grpo-1's containers do not declare/);
  });

  it("probes must use declared ports", () => {
    const b = bundle();
    container(b, "Deployment", "judge").readinessProbe = { tcpSocket: { port: 50052 } };
    assertProblem(checkPorts(b), /container judge: readinessProbe probes port 50052, which the container does not declare/);
  });
});

describe("selectorMatches", () => {
  it("follows matchLabels and matchExpressions, and never treats an empty selector as everything", () => {
    const labels = { app: "judge", tier: "cpu" };
    assert.equal(selectorMatches({ matchLabels: { app: "judge" } }, labels), true);
    assert.equal(selectorMatches({ matchLabels: { app: "policy" } }, labels), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["cpu", "gpu"] }] }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["cpu"] }] }, labels), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "gpu", operator: "DoesNotExist" }] }, labels), true);
    assert.equal(selectorMatches({}, labels), false);
    assert.equal(selectorMatches({}, labels, true), true, "a NetworkPolicy's empty selector selects every pod");
    assert.equal(selectorMatches(undefined, labels, true), true);
  });
});
