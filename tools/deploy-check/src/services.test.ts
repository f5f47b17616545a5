import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkServiceCommands, checkWiring, containerCommands, expandK8sVars, parseServiceSettings } from "./services.ts";
import { assertProblem, bundle, container, obj, setArg, RENDER_SKIP } from "./test/helpers.ts";

describe("expandK8sVars", () => {
  it("expands $(VAR) from the container's env, keeps unknown ones and $$ escapes", () => {
    const env = { NS: "grpomesh" };
    assert.equal(expandK8sVars("dns:///judge-headless.$(NS).svc.cluster.local:50051", env), "dns:///judge-headless.grpomesh.svc.cluster.local:50051");
    assert.equal(expandK8sVars("$(MISSING)/x", env), "$(MISSING)/x");
    assert.equal(expandK8sVars("$$(NS)", env), "$(NS)");
  });
});

describe("what the containers run", { skip: RENDER_SKIP }, () => {
  it("every service container runs its main.ts with flags its own parser accepts", () => {
    const b = bundle();
    assert.deepEqual(checkServiceCommands(b), []);
    const ran = containerCommands(b)
      .filter((c) => c.service)
      .map((c) => `${c.w.m.obj.kind}/${c.w.m.obj.metadata?.name}:${c.service}`)
      .sort();
    assert.deepEqual(ran, [
      "Deployment/judge:judge",
      "Deployment/policy-grpo-1:policy",
      "Deployment/reference-grpo-1:reference",
      "Job/orchestrator-grpo-1:orchestrator",
    ]);
  });

  it("resolves the environment and the run config the way the pods will see them", () => {
    const b = bundle();
    const commands = containerCommands(b);
    const judge = commands.find((c) => c.service === "judge")!;
    assert.equal(judge.env.JUDGE_MODEL, "judge/1/model.onnx", "JUDGE_MODEL comes from ConfigMap judge-model");
    const judgeSettings = parseServiceSettings(b, judge);
    assert.ok(!Array.isArray(judgeSettings), String(judgeSettings));
    assert.equal(judgeSettings.config.model, "judge/1/model.onnx");
    const orch = commands.find((c) => c.service === "orchestrator")!;
    assert.ok(orch.flags.includes("--judges=dns:///judge-headless.grpomesh.svc.cluster.local:50051"), orch.flags.join(" "));
    const orchSettings = parseServiceSettings(b, orch);
    assert.ok(!Array.isArray(orchSettings), String(orchSettings));
    // From run.json in ConfigMap run-config, not the defaults (200 iterations, checkpoint every 50).
    assert.equal(orchSettings.config.max_iters, 1000);
    assert.equal(orchSettings.config.checkpoint_interval, 25);
  });

  it("an unknown flag is refused by the service's parser", () => {
    const b = bundle();
    setArg(b, "Deployment", "judge", "--execution_provider=", "--execution_provder=cpu");
    setArg(b, "Deployment", "policy-grpo-1", "--backend=", "--backend=gpu");
    const problems = checkServiceCommands(b);
    assertProblem(
      problems,
      /container judge: services\/judge refuses its command line: unknown option --execution_provder; did you mean --execution_provider\?/,
    );
    assertProblem(problems, /container policy: services\/policy refuses its command line: .*backend/);
  });

  it("a bad run config in the ConfigMap is refused by the orchestrator's parser", () => {
    const b = bundle();
    const cm = obj(b, "ConfigMap", "run-config-grpo-1");
    cm.data!["run.json"] = cm.data!["run.json"]!.replace('"kl_beta"', '"kl_bta"');
    assertProblem(checkServiceCommands(b), /services\/orchestrator refuses its command line: unknown key "kl_bta" in config file .*did you mean "kl_beta"/);
    cm.data!["run.json"] = "{ not json";
    assertProblem(checkServiceCommands(b), /services\/orchestrator refuses its command line: config file .* is not valid JSON/);
  });

  it("--config must come from a ConfigMap volume", () => {
    const b = bundle();
    setArg(b, "Job", "orchestrator-grpo-1", "--config=", "--config=/etc/grpomesh/config/other.json");
    assertProblem(checkServiceCommands(b), /--config=\/etc\/grpomesh\/config\/other\.json: ConfigMap run-config-grpo-1 has no entry for other\.json/);
    setArg(b, "Job", "orchestrator-grpo-1", "--config=", "--config=/etc/grpomesh/run.json");
    assertProblem(checkServiceCommands(b), /--config=\/etc\/grpomesh\/run\.json is not on a ConfigMap volume/);
  });

  it("a main.ts that does not exist, or a container that runs no service, is caught", () => {
    const b = bundle();
    container(b, "Deployment", "reference-grpo-1").command = ["node", "--import", "tsx", "services/referee/src/main.ts"];
    container(b, "Deployment", "judge").command = ["sleep", "infinity"];
    const problems = checkServiceCommands(b);
    assertProblem(
      problems,
      /container reference: runs services\/referee\/src\/main\.ts, whose source services\/referee\/src\/main\.ts does not exist in the repository/,
    );
    assertProblem(problems, /container judge: runs \["sleep","infinity"/);
  });

  it("listen addresses must be reachable from other pods and match the declared ports", () => {
    const b = bundle();
    setArg(b, "Job", "orchestrator-grpo-1", "--address=", null); // the default, 127.0.0.1:50070
    setArg(b, "Deployment", "reference-grpo-1", "--metrics_port=", "--metrics_port=9476");
    container(b, "Deployment", "judge").ports!.find((p) => p.name === "grpc")!.containerPort = 50061;
    const problems = checkServiceCommands(b);
    assertProblem(problems, /container orchestrator: listens on 127\.0\.0\.1:50070; other pods cannot reach 127\.0\.0\.1/);
    assertProblem(problems, /container reference: serves metrics on 9476 but declares port metrics=9466/);
    assertProblem(problems, /container judge: serves grpc on 50051 but declares port grpc=50061/);
  });

  it("the metrics host is 0.0.0.0 wherever /metrics is on (the default is loopback)", () => {
    const b = bundle();
    setArg(b, "Job", "orchestrator-grpo-1", "--metrics_host=", null);
    setArg(b, "Deployment", "judge", "--metrics_host=", "--metrics_host=127.0.0.1");
    const problems = checkServiceCommands(b);
    assertProblem(problems, /container orchestrator: serves \/metrics on 127\.0\.0\.1; pass --metrics_host=0\.0\.0\.0/);
    assertProblem(problems, /container judge: serves \/metrics on 127\.0\.0\.1; pass --metrics_host=0\.0\.0\.0/);
  });

  it("paths must be on volumes, and written ones on writable volumes", () => {
    const b = bundle();
    setArg(b, "Job", "orchestrator-grpo-1", "--run_dir=", "--run_dir=/data/grpo-1");
    setArg(b, "Deployment", "policy-grpo-1", "--checkpoint=", "--checkpoint=models/generator-missing");
    container(b, "Deployment", "policy-grpo-1").volumeMounts!.find((v) => v.name === "runs")!.readOnly = true;
    const problems = checkServiceCommands(b);
    assertProblem(problems, /container orchestrator: --run_dir=\/data\/grpo-1 \(\/data\/grpo-1\) is written to but lies on no volume/);
    assertProblem(
      problems,
      /container policy: --checkpoint=models\/generator-missing \(\/app\/models\/generator-missing\) is on no volume and not a file of the repository image/,
    );
    assertProblem(problems, /container policy: --checkpoint_root=\/runs is written to, but volume runs is mounted read-only/);
  });
});

describe("checkWiring", { skip: RENDER_SKIP }, () => {
  it("passes on the repository", () => {
    assert.deepEqual(checkWiring(bundle()), []);
  });

  it("--judges must be the headless judge Service's DNS name on the port the judges listen on", () => {
    const b = bundle();
    setArg(b, "Job", "orchestrator-grpo-1", "--judges=", "--judges=dns:///judge-headless.$(POD_NAMESPACE).svc.cluster.local:50061");
    assertProblem(checkWiring(b), /--judges port 50061 is not a port of Service judge-headless/);
    assertProblem(checkWiring(b), /--judges dials port 50061 on judge pods, which listen on 50051/);
    setArg(b, "Job", "orchestrator-grpo-1", "--judges=", "--judges=dns:///judge.$(POD_NAMESPACE).svc.cluster.local:50051");
    assertProblem(checkWiring(b), /--judges names Service judge, which is not headless/);
    setArg(b, "Job", "orchestrator-grpo-1", "--judges=", "--judges=dns:///judge-headless.default.svc.cluster.local:50051");
    assertProblem(checkWiring(b), /--judges names Service judge-headless in namespace default, which no manifest defines/);
    setArg(b, "Job", "orchestrator-grpo-1", "--judges=", "--judges=judge-0:50051,judge-1:50051");
    assertProblem(checkWiring(b), /--judges=judge-0:50051,judge-1:50051; in Kubernetes use dns:\/\/\//);
  });

  it("the headless Service must select exactly the judge pods", () => {
    const b = bundle();
    obj(b, "Service", "judge-headless").spec!.selector = { "app.kubernetes.io/name": "policy", "app.kubernetes.io/part-of": "grpomesh" };
    assertProblem(checkWiring(b), /--judges Service judge-headless selects .*Deployment\/policy-grpo-1; expected the judge pods only/);
  });

  it("--policy and --reference must reach their services", () => {
    const b = bundle();
    setArg(b, "Job", "orchestrator-grpo-1", "--policy=", "--policy=policy-$(RUN):50072");
    setArg(b, "Job", "orchestrator-grpo-1", "--reference=", "--reference=ref:50072");
    const problems = checkWiring(b);
    assertProblem(problems, /--policy=policy-grpo-1:50072: Service policy-grpo-1 has no port 50072/);
    assertProblem(problems, /--reference=ref:50072 names no Service of namespace grpomesh/);
  });

  it("the policy writes checkpoints into the orchestrator's run directory: same claim, same path", () => {
    const b = bundle();
    container(b, "Deployment", "policy-grpo-1").volumeMounts!.find((v) => v.name === "runs")!.mountPath = "/checkpoints";
    setArg(b, "Deployment", "policy-grpo-1", "--checkpoint_root=", "--checkpoint_root=/checkpoints");
    const problems = checkWiring(b);
    assertProblem(problems, /mounts the run-directory claim at \/checkpoints, the orchestrator at \/runs/);
    assertProblem(problems, /--checkpoint_root=\/checkpoints does not contain the orchestrator's --run_dir=\/runs\/grpo-1/);
  });

  it("a policy on another claim, or without --checkpoint_root, is caught", () => {
    const b = bundle();
    obj(b, "Deployment", "policy-grpo-1").spec!.template!.spec!.volumes!.find((v) => v.name === "runs")!.persistentVolumeClaim!.claimName = "model-store";
    assertProblem(checkWiring(b), /--checkpoint_root=\/runs is on claim model-store; the orchestrator's run directory is on claim runs/);
    setArg(b, "Deployment", "policy-grpo-1", "--checkpoint_root=", null);
    assertProblem(checkWiring(b), /container policy: no --checkpoint_root/);
  });

  it("the policy stays a single writer", () => {
    const b = bundle();
    obj(b, "Deployment", "policy-grpo-1").spec!.replicas = 2;
    assertProblem(checkWiring(b), /the policy must be a Deployment of 1 replica with strategy Recreate/);
  });

  it("judges read a read-only model repository claim and start with a model", () => {
    const b = bundle();
    delete obj(b, "Deployment", "judge").spec!.template!.spec!.volumes!.find((v) => v.name === "model-store")!.persistentVolumeClaim!.readOnly;
    container(b, "Deployment", "judge").env = [];
    const problems = checkWiring(b);
    assertProblem(problems, /the model repository claim model-store should be mounted read-only/);
    assertProblem(problems, /container judge: no --model \(or JUDGE_MODEL\)/);
  });
});
