// The *_tls_name settings: several runs in one namespace dial their own Services (policy-<run>,
// judge-headless-<run>) but share each role's certificate, which names the role's Service. With the
// setting the orchestrator accepts a certificate under that name; without it (the host dialled) or
// with another name the handshake is refused. Real servers over mutual TLS on loopback.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseSettings } from "@grpomesh/config";
import { JudgeService } from "@grpomesh/proto";
import {
  bindService,
  createCertificateAuthority,
  loadSecurity,
  startServer,
  waitForServing,
  writeTlsDir,
  type RunningServer,
  type Security,
} from "@grpomesh/rpc";
import { roleEndpoints } from "./grpc-ports.ts";
import { JudgeFleet } from "./judge-fleet.ts";
import { ORCHESTRATOR_SETTINGS } from "./settings.ts";

const dir = mkdtempSync(join(tmpdir(), "orchestrator-tls-names-"));
let client: Security;
let policy: RunningServer;
let judge: RunningServer;

before(async () => {
  const ca = await createCertificateAuthority("tls names CA");
  // As make-secrets.ts issues them: the role's Service names (and loopback for probes, left out
  // here so that only the name setting can make the handshake pass).
  const serverDir = async (name: string, dnsNames: string[]) =>
    loadSecurity({ tlsDir: writeTlsDir(join(dir, name), await ca.issue({ commonName: name, dnsNames, usage: "both" }), ca.cert) });
  policy = await startServer({ address: "127.0.0.1:0", services: [], security: await serverDir("policy", ["policy", "policy.grpomesh.svc"]) });
  const judgeLike = bindService(JudgeService, { score: () => ({}), info: () => ({ modelName: "m", modelVersion: "v" }), loadModel: () => ({}) }, ["LoadModel"]);
  judge = await startServer({
    address: "127.0.0.1:0",
    services: [judgeLike],
    security: await serverDir("judge", ["judge-headless", "judge-headless.grpomesh.svc"]),
  });
  client = loadSecurity({ tlsDir: writeTlsDir(join(dir, "orchestrator"), await ca.issue({ commonName: "orchestrator", usage: "client" }), ca.cert) });
});

after(async () => {
  await Promise.all([policy?.shutdown(100), judge?.shutdown(100)]);
  rmSync(dir, { recursive: true, force: true });
});

const settings = (...argv: string[]) => parseSettings(ORCHESTRATOR_SETTINGS, { argv }).config;

test("--policy_tls_name: the policy's certificate is checked under the role's name, not the address dialled", async () => {
  const reach = (cfg: ReturnType<typeof settings>) =>
    waitForServing(roleEndpoints(cfg).policy.target, { security: client, tlsServerName: roleEndpoints(cfg).policy.tlsServerName, timeoutMs: 1_500 });
  await reach(settings(`--policy=127.0.0.1:${policy.port}`, "--policy_tls_name=policy"));
  await assert.rejects(
    reach(settings(`--policy=127.0.0.1:${policy.port}`)),
    /did not become SERVING/,
    "the default checks 127.0.0.1, which the certificate does not name",
  );
  await assert.rejects(reach(settings(`--policy=127.0.0.1:${policy.port}`, "--policy_tls_name=reference")), /did not become SERVING/);
  assert.deepEqual(roleEndpoints(settings("--reference=reference-grpo-2:50072", "--reference_tls_name=reference")).reference, {
    target: "reference-grpo-2:50072",
    tlsServerName: "reference",
  });
});

test("--judges_tls_name: judges found through a run's own headless Service answer under the shared fleet's name", async () => {
  const info = async (cfg: ReturnType<typeof settings>) => {
    const fleet = await JudgeFleet.fromSpec(cfg.judges, { security: client, tlsServerName: roleEndpoints(cfg).judgesTlsServerName, deadlineMs: 1_500 });
    try {
      const replica = fleet.replicas.find((r) => r.target.startsWith("127.0.0.1:"));
      assert.ok(replica, `localhost did not resolve to 127.0.0.1: ${fleet.replicas.map((r) => r.target).join(", ")}`);
      return { name: fleet.tlsServerName, version: (await replica.client.info({})).modelVersion };
    } finally {
      fleet.close();
    }
  };
  const spec = `--judges=dns:///localhost:${judge.port}`;
  assert.deepEqual(await info(settings(spec, "--judges_tls_name=judge-headless")), { name: "judge-headless", version: "v" });
  // Without it the name is the spec's host (localhost), which this certificate does not carry.
  await assert.rejects(info(settings(spec)), /UNAVAILABLE/);
});

test("a *_tls_name that is not a DNS name is refused by the settings", () => {
  assert.throws(
    () => settings("--policy_tls_name=policy grpo-2"),
    (err: unknown) => err instanceof ConfigError && /policy_tls_name/.test((err as Error).message),
  );
  assert.equal(settings().judges_tls_name, "");
});
