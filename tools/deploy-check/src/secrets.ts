// The Secrets the manifests mount, made here so nobody commits keys: one CA, a TLS Secret per role
// (kubernetes.io/tls with ca.crt: the folder layout --tls_dir reads) whose certificate carries the
// DNS names of the role's Services and the loopback names its exec probes dial, an admin-token
// Secret, and an operator's client certificate and token for calling admin RPCs from outside
// (`kubectl port-forward` + `npm run judge -- swap …`). deploy/scripts/make-secrets.ts runs it.
import { X509Certificate, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, parseSettings, setting, usage, z, type Values } from "@grpomesh/config";
import { createCertificateAuthority, writeTlsDir, type Pem } from "@grpomesh/rpc";
import { stringify } from "yaml";
import { where, type DeployBundle } from "./bundle.ts";
import { workloads, type K8sObject } from "./k8s.ts";
import { dialledNames } from "./services.ts";

/**
 * Each role's TLS Secret and the Service names its certificate carries. Every run's Services
 * (policy-<run>, judge-headless-<run>) share the role's Secret, so every run's orchestrator checks
 * the certificate under these role names (--policy_tls_name=policy, …), not the name it dials.
 */
const ROLE_TLS_SECRETS: ReadonlyArray<{ role: string; secretName: string; services: string[] }> = [
  { role: "policy", secretName: "policy-tls", services: ["policy"] },
  { role: "reference", secretName: "reference-tls", services: ["reference"] },
  { role: "judge", secretName: "judge-tls", services: ["judge", "judge-headless"] },
  { role: "orchestrator", secretName: "orchestrator-tls", services: ["orchestrator"] },
];
/** The admin token every service requires on state-changing RPCs (and the orchestrator sends). */
const ADMIN_TOKEN_SECRET = { name: "admin-token", key: "token" } as const;
const TLS_SECRET_KEYS = ["tls.crt", "tls.key", "ca.crt"] as const;
/** Exec probes and port-forwards dial the pod over loopback, so every certificate names it too. */
const LOOPBACK = { dnsNames: ["localhost"], ips: ["127.0.0.1", "::1"] } as const;
const OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const OID_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

/** The names a Service answers to from inside the cluster. */
function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export interface ClusterSecrets {
  namespace: string;
  /** Secret objects: the role TLS Secrets and the admin token. */
  secrets: K8sObject[];
  /** Client certificate (clientAuth only) for an operator's CLI, signed by the same CA. */
  operator: Pem & { ca: string };
  adminToken: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** A fresh CA, every role's TLS Secret (serverAuth + clientAuth), the admin token and operator credentials. */
export async function makeClusterSecrets(opts: { namespace?: string; days?: number } = {}): Promise<ClusterSecrets> {
  const namespace = opts.namespace ?? "grpomesh";
  const ca = await createCertificateAuthority(`grpo-mesh ${namespace} CA`, opts.days ?? 90);
  const labels = { "app.kubernetes.io/part-of": "grpomesh" };
  const secrets: K8sObject[] = [];
  for (const r of ROLE_TLS_SECRETS) {
    // Both usages: the certificate serves the role's port and is the client certificate of its
    // exec probes (and of the orchestrator's calls to the other roles).
    const pem = await ca.issue({
      commonName: `${r.role}.${namespace}.svc`,
      dnsNames: [...r.services.flatMap((s) => serviceDnsNames(s, namespace)), ...LOOPBACK.dnsNames],
      ips: [...LOOPBACK.ips],
      usage: "both",
    });
    secrets.push({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: r.secretName, namespace, labels: { ...labels, "app.kubernetes.io/name": r.role } },
      type: "kubernetes.io/tls",
      data: { "tls.crt": b64(pem.cert), "tls.key": b64(pem.key), "ca.crt": b64(ca.cert) },
    });
  }
  const adminToken = randomBytes(32).toString("base64url");
  secrets.push({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: ADMIN_TOKEN_SECRET.name, namespace, labels },
    type: "Opaque",
    data: { [ADMIN_TOKEN_SECRET.key]: b64(adminToken + "\n") },
  });
  const operator = await ca.issue({ commonName: "grpo-mesh operator", usage: "client" });
  return { namespace, secrets, operator: { ...operator, ca: ca.cert }, adminToken };
}

/** The Secrets as one YAML stream for `kubectl apply -f`. */
function secretsYaml(s: ClusterSecrets): string {
  const header = `# GRPO Mesh Secrets for namespace ${s.namespace}, made by deploy/scripts/make-secrets.ts.\n# Private keys and the admin token: keep this file out of version control.\n`;
  return header + s.secrets.map((o) => "---\n" + stringify(o, { lineWidth: 0 })).join("");
}

/** Decodes a Secret's data entry. */
export function secretData(secret: K8sObject, key: string): string | undefined {
  const v = secret.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
}

/**
 * The Secrets match what the manifests mount: every Secret volume names one of them (and no Secret
 * goes unused); TLS Secrets carry tls.crt, tls.key and ca.crt from one CA, with server and client
 * usage, for every name an orchestrator checks them under (dialledNames) and for loopback.
 */
export function checkSecretsAgainstManifests(bundle: DeployBundle, s: ClusterSecrets): string[] {
  const problems: string[] = [];
  const byName = new Map(s.secrets.map((o) => [o.metadata?.name ?? "", o]));
  const mounted = new Set<string>();
  const caCerts = new Set<string>();
  const dialled = dialledNames(bundle);
  for (const w of workloads(bundle)) {
    for (const v of w.pod.spec?.volumes ?? []) {
      const name = v.secret?.secretName;
      if (!v.secret) continue;
      mounted.add(name ?? "");
      const secret = byName.get(name ?? "");
      if (!secret) {
        problems.push(
          `${where(w.m)}: volume ${v.name} mounts Secret ${name}, which deploy/scripts/make-secrets.ts does not make (it makes ${[...byName.keys()].join(", ")})`,
        );
        continue;
      }
      if (secret.metadata?.namespace !== w.namespace)
        problems.push(`${where(w.m)}: Secret ${name} is made for namespace ${secret.metadata?.namespace}; the pod runs in ${w.namespace}`);
      for (const item of v.secret.items ?? []) {
        if (secretData(secret, item.key ?? "") === undefined)
          problems.push(`${where(w.m)}: volume ${v.name} maps key ${item.key} of Secret ${name}, which has keys ${Object.keys(secret.data ?? {}).join(", ")}`);
      }
      if (secret.type !== "kubernetes.io/tls") continue;
      for (const key of TLS_SECRET_KEYS)
        if (secretData(secret, key) === undefined) problems.push(`Secret ${name}: no ${key}; --tls_dir reads tls.crt, tls.key and ca.crt`);
      const certPem = secretData(secret, "tls.crt");
      const caPem = secretData(secret, "ca.crt");
      if (!certPem || !caPem) continue;
      caCerts.add(caPem);
      const cert = new X509Certificate(certPem);
      if (!cert.verify(new X509Certificate(caPem).publicKey)) problems.push(`Secret ${name}: tls.crt is not signed by its ca.crt`);
      for (const oid of [OID_SERVER_AUTH, OID_CLIENT_AUTH]) {
        if (!(cert.keyUsage ?? []).includes(oid))
          problems.push(
            `Secret ${name}: tls.crt lacks extended key usage ${oid === OID_SERVER_AUTH ? "serverAuth" : "clientAuth"} (it serves the role's port and is its probes' client certificate)`,
          );
      }
      for (const d of dialled.filter((d) => d.backends.some((b) => b.m === w.m))) {
        if (cert.checkHost(d.name, { wildcards: false }) === undefined)
          problems.push(
            `Secret ${name} (mounted by ${where(w.m)}): tls.crt is not valid for ${d.name}, the name ${d.via} checks it under; that orchestrator would refuse it`,
          );
      }
      for (const dns of LOOPBACK.dnsNames)
        if (cert.checkHost(dns, { wildcards: false }) === undefined)
          problems.push(`Secret ${name} (mounted by ${where(w.m)}): tls.crt is not valid for ${dns}, which probes and port-forwards dial`);
      for (const ip of LOOPBACK.ips)
        if (cert.checkIP(ip) === undefined) problems.push(`Secret ${name}: tls.crt is not valid for ${ip}, which the exec probes dial`);
    }
  }
  for (const name of byName.keys()) if (!mounted.has(name)) problems.push(`Secret ${name} is made but no pod mounts it`);
  if (caCerts.size > 1) problems.push(`the TLS Secrets are signed by ${caCerts.size} different CAs; mutual TLS needs one`);
  return problems;
}

/** Writes secrets.yaml, operator/ (a TLS folder for the CLIs' --tls_dir) and admin-token into an empty folder. */
export function writeClusterSecrets(dir: string, s: ClusterSecrets): { secretsFile: string; operatorTlsDir: string; adminTokenFile: string } {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(`${dir} is not empty; give an empty or new folder (nothing is overwritten: old credentials may still be in use)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const secretsFile = join(dir, "secrets.yaml");
  writeFileSync(secretsFile, secretsYaml(s), { mode: 0o600 });
  const operatorTlsDir = writeTlsDir(join(dir, "operator"), s.operator, s.operator.ca);
  const adminTokenFile = join(dir, "admin-token");
  writeFileSync(adminTokenFile, s.adminToken + "\n", { mode: 0o600 });
  return { secretsFile, operatorTlsDir, adminTokenFile };
}

const MAKE_SECRETS_SETTINGS = {
  out_dir: setting(z.string(), "", "a new (or empty) folder for secrets.yaml and the operator's credentials; required"),
  namespace: setting(
    z.string().refine((v) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v), "a namespace name (a DNS label)"),
    "grpomesh",
    "the namespace the Secrets are made for",
  ),
  days: setting(z.int().min(1).max(3650), 90, "how many days the certificates are valid"),
};
const COMMAND = "node --import tsx deploy/scripts/make-secrets.ts";

/** The command line of deploy/scripts/make-secrets.ts; returns the exit code. */
export async function makeSecretsMain(
  argv: string[],
  log: (line: string) => void = console.log,
  error: (line: string) => void = console.error,
): Promise<number> {
  let flags: Values<typeof MAKE_SECRETS_SETTINGS>;
  try {
    const parsed = parseSettings(MAKE_SECRETS_SETTINGS, { argv });
    if (parsed.help) {
      log(usage(MAKE_SECRETS_SETTINGS, COMMAND));
      return 0;
    }
    flags = parsed.config;
    if (!flags.out_dir) throw new ConfigError("--out_dir is required (a new folder for secrets.yaml and the operator's credentials)");
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    error(`make-secrets: ${err.message} (${COMMAND} --help lists every setting)`);
    return 2;
  }
  try {
    const out = writeClusterSecrets(resolve(flags.out_dir), await makeClusterSecrets({ namespace: flags.namespace, days: flags.days }));
    log(
      `make-secrets: one CA, ${ROLE_TLS_SECRETS.map((r) => r.secretName).join(", ")} and ${ADMIN_TOKEN_SECRET.name} for namespace ${flags.namespace}, valid ${flags.days} days`,
    );
    log(`  ${out.secretsFile}   kubectl apply -f it (private keys: keep it out of version control)`);
    log(`  ${out.operatorTlsDir}/   --tls_dir for the CLIs through a port-forward`);
    log(`  ${out.adminTokenFile}   --admin_token_file for the CLIs`);
    return 0;
  } catch (err) {
    error(`make-secrets: ${(err as Error).message}`);
    return 1;
  }
}
