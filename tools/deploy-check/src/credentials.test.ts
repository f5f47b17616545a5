import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkCredentials, healthcheckProbe } from "./credentials.ts";
import { assertProblem, bundle, container, obj, setArg, RENDER_SKIP } from "./test/helpers.ts";

const podSpec = (b: ReturnType<typeof bundle>, kind: string, name: string) => {
  const o = obj(b, kind, name);
  return (o.spec?.template?.spec ?? o.spec)!;
};

describe("credential checks on the repository", { skip: RENDER_SKIP }, () => {
  it("passes", () => {
    assert.deepEqual(checkCredentials(bundle()), []);
  });

  it("every service container passes TLS and the admin token from /etc/grpomesh, with both spellings", () => {
    const b = bundle();
    assert.ok(container(b, "Deployment", "judge").args!.includes("--tls_dir=/etc/grpomesh/tls"));
    assert.ok(container(b, "Deployment", "judge").args!.includes("--admin_token_file=/etc/grpomesh/admin/token"));
    for (const [kind, name] of [
      ["Deployment", "policy-grpo-1"],
      ["Deployment", "reference-grpo-1"],
      ["Job", "orchestrator-grpo-1"],
    ] as const) {
      assert.ok(container(b, kind, name).args!.includes("--tls_dir=/etc/grpomesh/tls"), `${name}: --tls_dir`);
      assert.ok(container(b, kind, name).args!.includes("--admin_token_file=/etc/grpomesh/admin/token"), `${name}: --admin_token_file`);
    }
  });
});

describe("checkCredentials", { skip: RENDER_SKIP }, () => {
  it("a service without --tls_dir or --admin_token_file is caught (either spelling)", () => {
    const b = bundle();
    setArg(b, "Deployment", "judge", "--tls_dir=", null);
    setArg(b, "Job", "orchestrator-grpo-1", "--admin_token_file=", null);
    const problems = checkCredentials(b);
    assertProblem(problems, /container judge: no --tls_dir/);
    assertProblem(problems, /container orchestrator: no --admin_token_file; .*could not call the others'/);
  });

  it("credentials must come from read-only Secret volumes, at the mount path, with every TLS key", () => {
    const b = bundle();
    setArg(b, "Deployment", "policy-grpo-1", "--tls_dir=", "--tls_dir=/tmp/tls");
    setArg(b, "Deployment", "reference-grpo-1", "--tls_dir=", "--tls_dir=/etc/grpomesh/tls/sub");
    container(b, "Job", "orchestrator-grpo-1").volumeMounts!.find((m) => m.name === "tls")!.readOnly = false;
    podSpec(b, "Deployment", "judge").volumes!.find((v) => v.name === "tls")!.secret!.items = [
      { key: "tls.crt", path: "tls.crt" },
      { key: "tls.key", path: "tls.key" },
    ];
    setArg(b, "Deployment", "judge", "--admin_token_file=", "--admin_token_file=/tmp/token");
    podSpec(b, "Deployment", "policy-grpo-1").volumes!.find((v) => v.name === "admin-token")!.secret!.items = [{ key: "token", path: "admin-token" }];
    const problems = checkCredentials(b);
    assertProblem(problems, /container policy: --tls_dir=\/tmp\/tls is not on a Secret volume/);
    assertProblem(
      problems,
      /container reference: --tls_dir=\/etc\/grpomesh\/tls\/sub is inside Secret volume tls at \/etc\/grpomesh\/tls; point it at the mount path/,
    );
    assertProblem(problems, /container orchestrator: Secret volume tls \(TLS\) is mounted without readOnly: true/);
    assertProblem(problems, /container judge: Secret volume tls maps only tls\.crt, tls\.key; --tls_dir needs tls\.crt, tls\.key and ca\.crt/);
    assertProblem(problems, /container judge: --admin_token_file=\/tmp\/token is not on a Secret volume/);
    assertProblem(problems, /container policy: --admin_token_file=\/etc\/grpomesh\/admin\/token: Secret volume admin-token maps admin-token, not token/);
  });

  it("every service reads the same admin token Secret", () => {
    const b = bundle();
    podSpec(b, "Deployment", "reference-grpo-1").volumes!.find((v) => v.name === "admin-token")!.secret!.secretName = "reference-admin-token";
    assertProblem(checkCredentials(b), /read their admin token from different Secrets .*reference-admin-token/);
  });

  it("probes of a TLS service run healthcheck.mjs with its TLS folder, on its port, within the probe's timeout", () => {
    const b = bundle();
    container(b, "Deployment", "judge").livenessProbe = { grpc: { port: 50051 }, periodSeconds: 20 };
    const policy = container(b, "Deployment", "policy-grpo-1");
    policy.readinessProbe!.exec!.command = policy.readinessProbe!.exec!.command!.filter((a) => !a.startsWith("--tls_dir="));
    policy.startupProbe!.timeoutSeconds = 4;
    const reference = container(b, "Deployment", "reference-grpo-1");
    reference.livenessProbe!.exec!.command = reference.livenessProbe!.exec!.command!.map((a) => a.replace("127.0.0.1:50072", "reference:50071"));
    const problems = checkCredentials(b);
    assertProblem(problems, /container judge: livenessProbe is a gRPC probe, but the service serves TLS/);
    assertProblem(
      problems,
      /container policy: readinessProbe runs deploy\/images\/healthcheck\.mjs with --tls_dir=\(none\); the service's is \/etc\/grpomesh\/tls/,
    );
    assertProblem(problems, /container policy: startupProbe gives the check a 4000 ms deadline but times the probe out after 4000 ms/);
    assertProblem(problems, /container reference: livenessProbe checks reference:50071; probe the container's own port over loopback/);
    assertProblem(problems, /container reference: livenessProbe checks port 50071; the container's grpc port is 50072/);
  });

  it("reads a probe's healthcheck command line", () => {
    assert.deepEqual(
      healthcheckProbe({
        exec: { command: ["node", "/app/deploy/images/healthcheck.mjs", "127.0.0.1:50051", "grpomesh.v1.JudgeService", "3000", "--tls_dir=/etc/grpomesh/tls"] },
      }),
      {
        script: "/app/deploy/images/healthcheck.mjs",
        target: "127.0.0.1:50051",
        service: "grpomesh.v1.JudgeService",
        deadlineMs: 3000,
        tlsDir: "/etc/grpomesh/tls",
      },
    );
    assert.equal(healthcheckProbe({ exec: { command: ["sh", "-c", "true"] } }), undefined);
  });
});
