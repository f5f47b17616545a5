// A small certificate authority for the local stack and for tests: ECDSA P-256 keys from Node's
// WebCrypto, certificates from @peculiar/x509 (no hand-written ASN.1, no openssl binary needed).
// Files are laid out as a Kubernetes TLS Secret is mounted: tls.crt, tls.key, ca.crt.
import { webcrypto, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
// @peculiar/x509 resolves its helpers through tsyringe, which needs the Reflect metadata polyfill first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

type KeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 3600 * 1000;

export interface Pem {
  cert: string;
  key: string;
}

export interface CertificateAuthority extends Pem {
  /** Signs a leaf certificate for a server (DNS names / IPs in its SAN) or a client. */
  issue(opts: IssueOptions): Promise<Pem>;
}

export interface IssueOptions {
  commonName: string;
  /** DNS names and IP addresses the certificate is valid for (servers). */
  dnsNames?: string[];
  ips?: string[];
  usage: "server" | "client" | "both";
  notBefore?: Date;
  notAfter?: Date;
}

const serial = () =>
  randomBytes(16)
    .toString("hex")
    .replace(/^[89a-f]/, "1");

async function pemKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/** A new self-signed CA valid for `days` (default 30). */
export async function createCertificateAuthority(name = "grpo-mesh local CA", days = 30): Promise<CertificateAuthority> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: caCert.toString("pem"),
    key: await pemKey(keys.privateKey),
    async issue(opts: IssueOptions): Promise<Pem> {
      const leafKeys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
      const start = opts.notBefore ?? new Date(Date.now() - 60_000);
      const purposes = {
        server: [x509.ExtendedKeyUsage.serverAuth],
        client: [x509.ExtendedKeyUsage.clientAuth],
        both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
      }[opts.usage];
      const names = [
        ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
        ...(opts.ips ?? []).map((value) => ({ type: "ip" as const, value })),
      ];
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${opts.commonName}`,
        issuer: caCert.subject,
        notBefore: start,
        notAfter: opts.notAfter ?? new Date(start.getTime() + days * DAY_MS),
        signingAlgorithm: ALG,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension(purposes, false),
          ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
          await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
        ],
      });
      return { cert: leaf.toString("pem"), key: await pemKey(leafKeys.privateKey) };
    },
  };
}

/** Writes tls.crt, tls.key (mode 0600) and ca.crt into `dir` (mode 0700), as a mounted TLS Secret. */
export function writeTlsDir(dir: string, pem: Pem, caCert: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, "tls.crt"), pem.cert);
  writeFileSync(join(dir, "tls.key"), pem.key, { mode: 0o600 });
  writeFileSync(join(dir, "ca.crt"), caCert);
  return dir;
}

export interface LocalCredentials {
  /** Folder of the credentials: server/, client/ (TLS Secret layouts) and admin-token. */
  dir: string;
  serverTlsDir: string;
  clientTlsDir: string;
  adminTokenFile: string;
}

/**
 * Fresh credentials for a stack on this machine: one CA, a server certificate for localhost,
 * 127.0.0.1 and ::1 (shared by every service), a client certificate (the orchestrator and the CLIs;
 * valid for serving on loopback too, since the orchestrator also serves the CLIs with it) and a
 * random admin token. Everything lives in `dir` with owner-only permissions.
 */
export async function createLocalCredentials(dir: string, opts: { days?: number; ips?: readonly string[] } = {}): Promise<LocalCredentials> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const ca = await createCertificateAuthority("grpo-mesh local CA", opts.days ?? 30);
  // `ips`: more addresses the services are reached at (the hosts of `npm run sim`)
  const server = await ca.issue({ commonName: "grpo-mesh services", dnsNames: ["localhost"], ips: ["127.0.0.1", "::1", ...(opts.ips ?? [])], usage: "server" });
  const client = await ca.issue({ commonName: "grpo-mesh client", dnsNames: ["localhost"], ips: ["127.0.0.1", "::1"], usage: "both" });
  const adminTokenFile = join(dir, "admin-token");
  writeFileSync(adminTokenFile, randomBytes(32).toString("base64url") + "\n", { mode: 0o600 });
  return {
    dir,
    serverTlsDir: writeTlsDir(join(dir, "server"), server, ca.cert),
    clientTlsDir: writeTlsDir(join(dir, "client"), client, ca.cert),
    adminTokenFile,
  };
}
