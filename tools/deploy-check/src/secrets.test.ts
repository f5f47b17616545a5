import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer, type TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";
import { createCertificateAuthority } from "@grpomesh/rpc";
import { parseYamlDocuments, REPO_ROOT } from "./bundle.ts";
import { validateObject } from "./schema.ts";
import { checkSecretsAgainstManifests, makeClusterSecrets, makeSecretsMain, secretData, type ClusterSecrets } from "./secrets.ts";
import { assertProblem, bundle, obj, RENDER_SKIP, setArg } from "./test/helpers.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("deploy/scripts/make-secrets.ts: the Secrets the manifests mount", { skip: RENDER_SKIP }, () => {
  let made: ClusterSecrets;
  before(async () => {
    made = await makeClusterSecrets({ namespace: "grpomesh", days: 30 });
  });
  const secret = (s: ClusterSecrets, name: string) => s.secrets.find((o) => o.metadata?.name === name)!;

  it("match every Secret volume: TLS Secrets with ca.crt from one CA, both usages, every Service name and loopback", () => {
    assert.deepEqual(checkSecretsAgainstManifests(bundle(), made), []);
    for (const o of made.secrets) assert.deepEqual(validateObject("v1", "Secret", o), [], `Secret ${o.metadata?.name} against the v1 Secret schema`);
    assert.deepEqual(made.secrets.map((o) => `${o.type} ${o.metadata?.name}`).sort(), [
      "Opaque admin-token",
      "kubernetes.io/tls judge-tls",
      "kubernetes.io/tls orchestrator-tls",
      "kubernetes.io/tls policy-tls",
      "kubernetes.io/tls reference-tls",
    ]);
    assert.equal(secretData(secret(made, "admin-token"), "token"), made.adminToken + "\n");
    assert.ok(made.adminToken.length >= 32);
  });

  it("a certificate without the name the orchestrator checks it under is caught", async () => {
    const s = structuredClone(made);
    const ca = await createCertificateAuthority();
    const pem = await ca.issue({ commonName: "judge", dnsNames: ["judge", "localhost"], ips: ["127.0.0.1", "::1"], usage: "both" });
    Object.assign(secret(s, "judge-tls").data!, { "tls.crt": b64(pem.cert), "tls.key": b64(pem.key), "ca.crt": b64(ca.cert) });
    const problems = checkSecretsAgainstManifests(bundle(), s);
    assertProblem(
      problems,
      /Secret judge-tls \(mounted by .*Deployment\/judge\): tls\.crt is not valid for judge-headless, the name .*Job\/orchestrator-grpo-1 .*--judges_tls_name=judge-headless\) checks it under/,
    );
    assertProblem(problems, /the TLS Secrets are signed by 2 different CAs/);
  });

  it("without --policy_tls_name the orchestrator checks the run's Service name, which the shared certificate does not carry", () => {
    const b = bundle();
    setArg(b, "Job", "orchestrator-grpo-1", "--policy_tls_name=", null);
    assertProblem(
      checkSecretsAgainstManifests(b, made),
      /Secret policy-tls \(mounted by .*Deployment\/policy-grpo-1\): tls\.crt is not valid for policy-grpo-1, the name .*--policy=policy-grpo-1:50071 checks it under/,
    );
  });

  it("a certificate not signed by its ca.crt, or for one usage only, is caught", async () => {
    const s = structuredClone(made);
    const other = await createCertificateAuthority();
    const pem = await other.issue({
      commonName: "policy",
      dnsNames: ["policy", "policy.grpomesh", "policy.grpomesh.svc", "policy.grpomesh.svc.cluster.local", "localhost"],
      ips: ["127.0.0.1", "::1"],
      usage: "server",
    });
    secret(s, "policy-tls").data!["tls.crt"] = b64(pem.cert);
    const problems = checkSecretsAgainstManifests(bundle(), s);
    assertProblem(problems, /Secret policy-tls: tls\.crt is not signed by its ca\.crt/);
    assertProblem(problems, /Secret policy-tls: tls\.crt lacks extended key usage clientAuth/);
  });

  it("a mounted Secret the script does not make, and a made one nobody mounts, are caught", () => {
    const b = bundle();
    obj(b, "Deployment", "reference-grpo-1").spec!.template!.spec!.volumes!.find((v) => v.name === "tls")!.secret!.secretName = "reference-cert";
    const problems = checkSecretsAgainstManifests(b, made);
    assertProblem(problems, /Deployment\/reference-grpo-1: volume tls mounts Secret reference-cert, which deploy\/scripts\/make-secrets\.ts does not make/);
    assertProblem(problems, /Secret reference-tls is made but no pod mounts it/);
  });

  it("complete a mutual TLS handshake under the Services' names, and refuse a wrong name", async () => {
    const tls = (name: string) => ({
      cert: secretData(secret(made, name), "tls.crt")!,
      key: secretData(secret(made, name), "tls.key")!,
      ca: secretData(secret(made, name), "ca.crt")!,
    });
    const server = createServer({ ...tls("policy-tls"), requestCert: true, rejectUnauthorized: true }, (socket) => socket.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const dial = (creds: { cert: string; key: string; ca: string }, servername: string) =>
      new Promise<string>((resolve, reject) => {
        const socket: TLSSocket = connect({ host: "127.0.0.1", port, servername, ...creds }, () => {
          socket.once("data", (d) => {
            socket.destroy();
            resolve(`${socket.authorized} ${d}`);
          });
        });
        socket.once("error", reject);
      });
    try {
      assert.equal(await dial(tls("orchestrator-tls"), "policy.grpomesh.svc.cluster.local"), "true ok");
      assert.equal(await dial(tls("orchestrator-tls"), "policy"), "true ok");
      assert.equal(await dial({ cert: made.operator.cert, key: made.operator.key, ca: made.operator.ca }, "localhost"), "true ok");
      await assert.rejects(dial(tls("orchestrator-tls"), "reference.grpomesh.svc"), /Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME_INVALID/);
    } finally {
      server.close();
    }
  });
});

describe("make-secrets command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "deploy-check-secrets-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const code = await makeSecretsMain(
      argv,
      (l) => out.push(l),
      (l) => out.push(l),
    );
    return { code, out: out.join("\n") };
  };

  it("writes secrets.yaml, the operator's TLS folder and token, owner-only, into a new folder", async () => {
    const out = join(dir, "new");
    const r = await run([`--out_dir=${out}`, "--namespace=ml-team", "--days=7"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /policy-tls, reference-tls, judge-tls, orchestrator-tls and admin-token for namespace ml-team, valid 7 days/);
    const docs = parseYamlDocuments(readFileSync(join(out, "secrets.yaml"), "utf8"), "secrets.yaml");
    assert.deepEqual(
      docs.map((d) => (d.value as { metadata: { namespace: string } }).metadata.namespace),
      Array(5).fill("ml-team"),
    );
    for (const f of ["secrets.yaml", "admin-token", "operator/tls.key"]) assert.equal(statSync(join(out, f)).mode & 0o077, 0, `${f} is readable by others`);
    assert.equal(statSync(out).mode & 0o777, 0o700);
    const token = readFileSync(join(out, "admin-token"), "utf8").trim();
    const adminDoc = docs.find((d) => (d.value as { metadata: { name: string } }).metadata.name === "admin-token")!.value as { data: { token: string } };
    assert.equal(Buffer.from(adminDoc.data.token, "base64").toString().trim(), token);
    assert.match(readFileSync(join(out, "operator/tls.crt"), "utf8"), /BEGIN CERTIFICATE/);
  });

  it("never writes into a folder that holds something, and refuses bad arguments", async () => {
    const used = join(dir, "used");
    assert.equal((await run([`--out_dir=${used}`])).code, 0);
    const before = readFileSync(join(used, "admin-token"), "utf8");
    const again = await run([`--out_dir=${used}`]);
    assert.equal(again.code, 1);
    assert.match(again.out, /is not empty; give an empty or new folder/);
    assert.equal(readFileSync(join(used, "admin-token"), "utf8"), before);
    assert.match((await run(["--out-dir"])).out, /option --out-dir needs a value/);
    assert.match((await run(["--outdir=x"])).out, /unknown option --outdir; did you mean --out_dir\?/);
    assert.match((await run([])).out, /--out_dir is required/);
    assert.match((await run([`--out_dir=${dir}/a`, "--days=0"])).out, /option --days is 0; expected an integer in \[1, 3650\]/);
    assert.match((await run([`--out_dir=${dir}/a`, "--namespace=Bad_NS"])).out, /option --namespace is "Bad_NS"; expected a namespace name/);
    assert.equal((await run([`--out_dir=${dir}/a`, "--days=0"])).code, 2);
  });

  it("runs as deploy/scripts/make-secrets.ts", async () => {
    const out = join(dir, "script");
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ["--import", "tsx", "deploy/scripts/make-secrets.ts", `--out_dir=${out}`],
        { cwd: REPO_ROOT, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /secrets\.yaml +kubectl apply -f it/);
    assert.equal(parseYamlDocuments(readFileSync(join(out, "secrets.yaml"), "utf8"), "secrets.yaml").length, 5);
  });
});
