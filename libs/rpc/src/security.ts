// Transport security and the admin credential, the same for every service and client.
//
// TLS material comes from a folder laid out as a mounted Kubernetes TLS Secret: tls.crt and
// tls.key (this side's certificate chain and key) and ca.crt (the CA that signs the other side).
// A server with ca.crt requires and verifies client certificates (mutual TLS); a client with
// ca.crt trusts only that CA for the server.
//
// State-changing RPCs need the admin token: `authorization: Bearer <token>` metadata, compared in
// constant time. No header → UNAUTHENTICATED, a wrong token → PERMISSION_DENIED, and a server that
// was given no token refuses every state-changing call (PERMISSION_DENIED) while serving reads.
import { createHash, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isIP } from "node:net";
import { checkServerIdentity } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { RpcError, Status } from "./errors.ts";

export const TLS_CERT_FILE = "tls.crt";
export const TLS_KEY_FILE = "tls.key";
export const TLS_CA_FILE = "ca.crt";
/** Longest admin token file accepted (a token is a line, not a document). */
const MAX_TOKEN_BYTES = 4096;

export interface TlsMaterial {
  dir: string;
  cert: Buffer;
  key: Buffer;
  /** null: no ca.crt — a server does not ask for client certificates; a client trusts the system's roots. */
  ca: Buffer | null;
}

export interface Security {
  /** null: plaintext. */
  tls: TlsMaterial | null;
  /** The admin token: a server requires it on state-changing RPCs, a client sends it. null: none. */
  adminToken: string | null;
  adminTokenFile: string | null;
}

/** Plaintext and no admin token: what a service gets when it is given no credentials. */
export const INSECURE: Security = Object.freeze({ tls: null, adminToken: null, adminTokenFile: null });

export class SecurityConfigError extends Error {
  override name = "SecurityConfigError";
}

function readRequired(dir: string, file: string): Buffer {
  const path = join(dir, file);
  if (!existsSync(path))
    throw new SecurityConfigError(
      `TLS folder ${dir} has no ${file}; expected ${TLS_CERT_FILE}, ${TLS_KEY_FILE} and ${TLS_CA_FILE} (a Kubernetes TLS Secret's layout)`,
    );
  const data = readFileSync(path);
  if (!data.toString("latin1").includes("-----BEGIN")) throw new SecurityConfigError(`${path} is not PEM (no -----BEGIN line)`);
  return data;
}

/** Reads a TLS folder; throws SecurityConfigError naming the missing or malformed file. */
export function loadTlsDir(dir: string): TlsMaterial {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new SecurityConfigError(`TLS folder ${dir} does not exist; expected a folder with ${TLS_CERT_FILE}, ${TLS_KEY_FILE} and ${TLS_CA_FILE}`);
  const cert = readRequired(dir, TLS_CERT_FILE);
  const key = readRequired(dir, TLS_KEY_FILE);
  const ca = existsSync(join(dir, TLS_CA_FILE)) ? readRequired(dir, TLS_CA_FILE) : null;
  return { dir, cert, key, ca };
}

/** Reads the admin token file: one non-empty line, at most 4 KiB. */
export function readAdminToken(path: string): string {
  if (!existsSync(path)) throw new SecurityConfigError(`admin token file ${path} does not exist`);
  const raw = readFileSync(path);
  if (raw.length > MAX_TOKEN_BYTES)
    throw new SecurityConfigError(`admin token file ${path} is ${raw.length} bytes; expected one line of at most ${MAX_TOKEN_BYTES} bytes`);
  const token = raw.toString("utf8").trim();
  if (token.length < 16)
    throw new SecurityConfigError(`admin token in ${path} is ${token.length} characters; expected at least 16 (e.g. openssl rand -base64 32)`);
  if (/[\r\n]/.test(token)) throw new SecurityConfigError(`admin token file ${path} holds several lines; expected one`);
  return token;
}

/** The Security a process's `--tls_dir` and `--admin_token_file` describe (empty strings: none). */
export function loadSecurity(opts: { tlsDir?: string | null; adminTokenFile?: string | null }): Security {
  const tlsDir = opts.tlsDir || null;
  const adminTokenFile = opts.adminTokenFile || null;
  return {
    tls: tlsDir ? loadTlsDir(tlsDir) : null,
    adminToken: adminTokenFile ? readAdminToken(adminTokenFile) : null,
    adminTokenFile,
  };
}

export function serverCredentials(security: Security): grpc.ServerCredentials {
  const tls = security.tls;
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], tls.ca !== null);
}

export function channelCredentials(security: Security, verifyOptions?: grpc.VerifyOptions): grpc.ChannelCredentials {
  const tls = security.tls;
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert, verifyOptions);
}

/** The host of a plain "host:port" or "[v6]:port" target; undefined for resolver targets (dns:///…, ipv4:…). */
function plainHost(target: string): string | undefined {
  const m = /^\[([^\]]+)\]:\d+$/.exec(target) ?? /^([^:/]+):\d+$/.exec(target);
  return m?.[1];
}

/**
 * Credentials and channel options for one target. TLS to an IP address: grpc-js would put the IP
 * in SNI, which TLS forbids (Node warns, DEP0123); SNI then carries a placeholder name while the
 * certificate is still checked against the IP itself. `serverName`: the name the certificate must
 * carry instead of the target's host.
 */
export function targetCredentials(
  target: string,
  security: Security,
  serverName?: string,
): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  if (serverName) {
    return {
      credentials: channelCredentials(security),
      options: security.tls ? { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName } : {},
    };
  }
  const host = plainHost(target);
  if (!security.tls || !host || !isIP(host)) return { credentials: channelCredentials(security), options: {} };
  return {
    credentials: channelCredentials(security, { checkServerIdentity: (_sni, cert) => checkServerIdentity(host, cert) }),
    options: { "grpc.ssl_target_name_override": "ip-address.invalid", "grpc.default_authority": target },
  };
}

/** Start-line fields: `tls=mtls|tls|off admin=token|none`. */
export function securityFields(security: Security): Array<[string, string]> {
  return [
    ["tls", security.tls ? (security.tls.ca ? "mtls" : "tls") : "off"],
    ["admin", security.adminToken ? "token" : "none"],
  ];
}

/** One line a service prints at start when it is not fully secured, or undefined. */
export function securityWarning(name: string, security: Security): string | undefined {
  const parts: string[] = [];
  if (!security.tls) parts.push("plaintext gRPC (no --tls_dir): anyone who reaches the port can read and send calls");
  if (!security.adminToken) parts.push("no --admin_token_file: state-changing RPCs are refused; read RPCs are served");
  return parts.length ? `${name}: WARNING: ${parts.join("; ")}` : undefined;
}

export const AUTHORIZATION_HEADER = "authorization";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Checks a call to a state-changing method. Throws UNAUTHENTICATED (no credential),
 * PERMISSION_DENIED (wrong credential, or none configured on this server).
 */
export function checkAdmin(security: Security, metadata: grpc.Metadata, method: string): void {
  if (!security.adminToken) {
    throw new RpcError(
      Status.PERMISSION_DENIED,
      `${method} changes state and this service was started without an admin credential (--admin_token_file); it serves read RPCs only`,
    );
  }
  const values = metadata.get(AUTHORIZATION_HEADER);
  if (values.length === 0)
    throw new RpcError(Status.UNAUTHENTICATED, `${method} changes state and needs the admin token: send metadata "authorization: Bearer <token>"`);
  const value = String(values[0]);
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!m) throw new RpcError(Status.UNAUTHENTICATED, `${method}: the authorization metadata is not "Bearer <token>"`);
  if (!timingSafeEqual(digest(m[1]!), digest(security.adminToken)))
    throw new RpcError(Status.PERMISSION_DENIED, `${method}: the admin token is not the one this service was given`);
}

/** Metadata that carries the admin token (empty when there is none). */
export function adminMetadata(security: Security): grpc.Metadata {
  const md = new grpc.Metadata();
  if (security.adminToken) md.set(AUTHORIZATION_HEADER, `Bearer ${security.adminToken}`);
  return md;
}
