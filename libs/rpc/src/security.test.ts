// Real TLS handshakes and the admin credential over a real server: who is let in, who is refused,
// and that a refused state-changing call never reaches its handler.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { JudgeService } from "@grpomesh/proto";
import {
  INSECURE,
  RpcCallError,
  Status,
  bindService,
  checkHealth,
  createCertificateAuthority,
  createClient,
  createLocalCredentials,
  echo,
  loadSecurity,
  startServer,
  truncateMessage,
  writeTlsDir,
  type LocalCredentials,
  type RunningServer,
  type Security,
} from "./index.ts";

const HealthClient = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, "Health");
const dir = mkdtempSync(join(tmpdir(), "grpomesh-security-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let creds: LocalCredentials;
let loads = 0;
const judgeLike = () =>
  bindService(
    JudgeService,
    {
      score: () => ({ modelVersion: "v" }),
      info: () => ({ modelName: "m", modelVersion: `v${loads}` }),
      loadModel: () => {
        loads++;
        return { modelVersion: `v${loads}` };
      },
    },
    ["LoadModel"],
  );

async function serve(security: Security): Promise<RunningServer> {
  return startServer({ address: "127.0.0.1:0", services: [judgeLike()], security });
}

async function code(p: Promise<unknown>): Promise<Status | "OK"> {
  try {
    await p;
    return "OK";
  } catch (err) {
    assert.ok(err instanceof RpcCallError, `expected an RpcCallError, got ${String(err)}`);
    return err.code;
  }
}

before(async () => {
  creds = await createLocalCredentials(join(dir, "local"));
});

const deprecations: string[] = [];
process.on("warning", (w: Error & { code?: string }) => w.code && deprecations.push(w.code));
after(() =>
  assert.deepEqual(
    deprecations.filter((c) => c === "DEP0123"),
    [],
    "TLS to an IP address must not put the IP in SNI (DEP0123)",
  ),
);

describe("mutual TLS", () => {
  let server: RunningServer;
  let serverSecurity: Security;
  before(async () => {
    serverSecurity = loadSecurity({ tlsDir: creds.serverTlsDir, adminTokenFile: creds.adminTokenFile });
    server = await serve(serverSecurity);
  });
  after(() => server.shutdown(100));

  test("a client with the CA's client certificate is served", async () => {
    const security = loadSecurity({ tlsDir: creds.clientTlsDir });
    assert.equal(await checkHealth(server.address, "", 5_000, security), "SERVING");
    const client = createClient(JudgeService, server.address, { deadlineMs: 5_000, security });
    try {
      assert.equal((await client.info({})).modelName, "m");
    } finally {
      client.close();
    }
  });

  test("a plaintext client is refused", async () => {
    assert.equal(await code(checkHealth(server.address, "", 3_000, INSECURE)), Status.UNAVAILABLE);
  });

  test("a TLS client without a certificate is refused", async () => {
    // loadTlsDir insists on a certificate, so build this credential by hand: it trusts the server's CA and presents nothing.
    const client = new HealthClient(server.address, grpc.credentials.createSsl(readFileSync(join(creds.clientTlsDir, "ca.crt"))), {
      "grpc.ssl_target_name_override": "localhost",
    });
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      (client as unknown as { check: Function }).check({ service: "" }, { deadline: Date.now() + 3_000 }, (e: grpc.ServiceError | null) => resolve(e)),
    );
    client.close();
    assert.ok(err, "a client without a certificate must be refused");
    assert.equal(err.code, Status.UNAVAILABLE);
  });

  test("a client certificate from another CA is refused", async () => {
    const other = await createCertificateAuthority("another CA");
    const pem = await other.issue({ commonName: "intruder", usage: "client" });
    const otherDir = writeTlsDir(join(dir, "other-ca"), pem, readFileSync(join(creds.clientTlsDir, "ca.crt"), "utf8"));
    assert.equal(await code(checkHealth(server.address, "", 3_000, loadSecurity({ tlsDir: otherDir }))), Status.UNAVAILABLE);
  });

  test("an expired client certificate from the right CA is refused", async () => {
    // A second CA written as the server's trust root lets this test sign an expired certificate.
    const ca = await createCertificateAuthority("expiry CA");
    const serverPem = await ca.issue({ commonName: "server", dnsNames: ["localhost"], ips: ["127.0.0.1"], usage: "server" });
    const serverDir = writeTlsDir(join(dir, "expiry-server"), serverPem, ca.cert);
    const s = await serve(loadSecurity({ tlsDir: serverDir }));
    try {
      const valid = await ca.issue({ commonName: "client", usage: "client" });
      const expired = await ca.issue({
        commonName: "client",
        usage: "client",
        notBefore: new Date(Date.now() - 10 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
      });
      const validDir = writeTlsDir(join(dir, "valid-client"), valid, ca.cert);
      const expiredDir = writeTlsDir(join(dir, "expired-client"), expired, ca.cert);
      assert.equal(await checkHealth(s.address, "", 5_000, loadSecurity({ tlsDir: validDir })), "SERVING", "the same CA's valid certificate is served");
      assert.equal(await code(checkHealth(s.address, "", 3_000, loadSecurity({ tlsDir: expiredDir }))), Status.UNAVAILABLE);
    } finally {
      await s.shutdown(100);
    }
  });

  test("a client refuses a server whose certificate is from another CA", async () => {
    const other = await createCertificateAuthority("impostor CA");
    const pem = await other.issue({ commonName: "impostor", dnsNames: ["localhost"], ips: ["127.0.0.1"], usage: "server" });
    const impostor = await serve(loadSecurity({ tlsDir: writeTlsDir(join(dir, "impostor"), pem, other.cert) }));
    try {
      assert.equal(await code(checkHealth(impostor.address, "", 3_000, loadSecurity({ tlsDir: creds.clientTlsDir }))), Status.UNAVAILABLE);
    } finally {
      await impostor.shutdown(100);
    }
  });
});

describe("the admin credential", () => {
  const before0 = () => loads;

  test("no token → UNAUTHENTICATED, wrong token → PERMISSION_DENIED, right token → served; refusals change nothing", async () => {
    const server = await serve(loadSecurity({ adminTokenFile: creds.adminTokenFile }));
    const wrongFile = join(dir, "wrong-token");
    writeFileSync(wrongFile, "not-the-token-but-long-enough\n");
    const clients = {
      none: createClient(JudgeService, server.address, { deadlineMs: 5_000 }),
      wrong: createClient(JudgeService, server.address, { deadlineMs: 5_000, security: loadSecurity({ adminTokenFile: wrongFile }) }),
      right: createClient(JudgeService, server.address, { deadlineMs: 5_000, security: loadSecurity({ adminTokenFile: creds.adminTokenFile }) }),
    };
    try {
      const start = before0();
      assert.equal((await clients.none.info({})).modelName, "m", "read RPCs need no token");
      assert.equal(await code(clients.none.loadModel({ path: "x" })), Status.UNAUTHENTICATED);
      assert.equal(await code(clients.wrong.loadModel({ path: "x" })), Status.PERMISSION_DENIED);
      assert.equal(loads, start, "a refused call never reaches the handler");
      assert.equal(await code(clients.right.loadModel({ path: "x" })), "OK");
      assert.equal(loads, start + 1);
    } finally {
      Object.values(clients).forEach((c) => c.close());
      await server.shutdown(100);
    }
  });

  test("a malformed authorization header is UNAUTHENTICATED", async () => {
    const server = await serve(loadSecurity({ adminTokenFile: creds.adminTokenFile }));
    const client = createClient(JudgeService, server.address, { deadlineMs: 5_000 });
    try {
      const md = new grpc.Metadata();
      md.set("authorization", "Basic abc");
      assert.equal(await code(client.loadModel({ path: "x" }, { metadata: md })), Status.UNAUTHENTICATED);
    } finally {
      client.close();
      await server.shutdown(100);
    }
  });

  test("a server started without a token serves reads and refuses every state-changing call", async () => {
    const server = await serve(INSECURE);
    const client = createClient(JudgeService, server.address, { deadlineMs: 5_000, security: loadSecurity({ adminTokenFile: creds.adminTokenFile }) });
    try {
      const start = loads;
      assert.equal((await client.info({})).modelName, "m");
      const err = await client.loadModel({ path: "x" }).catch((e: RpcCallError) => e);
      assert.ok(err instanceof RpcCallError);
      assert.equal(err.code, Status.PERMISSION_DENIED);
      assert.match(err.details, /without an admin credential/);
      assert.equal(loads, start);
    } finally {
      client.close();
      await server.shutdown(100);
    }
  });

  test("bindService refuses to mark a method the service does not have", () => {
    assert.throws(() => bindService(JudgeService, { score: () => ({}), info: () => ({}), loadModel: () => ({}) }, ["Nope"]), /no method Nope/);
  });
});

describe("loading credentials", () => {
  test("a missing TLS file and a short token are named", () => {
    assert.throws(() => loadSecurity({ tlsDir: join(dir, "nowhere") }), /TLS folder .*nowhere does not exist/);
    const short = join(dir, "short");
    writeFileSync(short, "abc\n");
    assert.throws(() => loadSecurity({ adminTokenFile: short }), /3 characters; expected at least 16/);
  });
});

test("status messages and echoed values are bounded", () => {
  const long = "x".repeat(1 << 20);
  assert.ok(truncateMessage(long).length < 2100);
  assert.match(echo(long), /^"x{200}"… \(1048576 characters\)$/);
  assert.equal(echo("short"), '"short"');
});

describe("confinePath", () => {
  test("relative paths resolve inside the root; .., absolute paths and symlinks out are refused; long paths are bounded", async () => {
    const { confinePath, MAX_PATH_BYTES } = await import("./paths.ts");
    const { mkdirSync, symlinkSync } = await import("node:fs");
    const root = join(dir, "root");
    mkdirSync(join(root, "a"), { recursive: true });
    symlinkSync("/etc", join(root, "escape"));
    assert.equal(confinePath(root, "a/b", "dir"), join(root, "a/b"));
    assert.equal(confinePath(root, join(root, "new/deeper"), "dir"), join(root, "new/deeper"));
    const refused = (p: string, c: Status) =>
      assert.throws(
        () => confinePath(root, p, "dir"),
        (e: { code: Status; message: string }) => e.code === c && e.message.length < 600,
      );
    refused("../outside", Status.PERMISSION_DENIED);
    refused("/etc/passwd", Status.PERMISSION_DENIED);
    refused("escape/passwd", Status.PERMISSION_DENIED);
    refused("escape", Status.PERMISSION_DENIED);
    refused("a".repeat(MAX_PATH_BYTES + 1), Status.INVALID_ARGUMENT);
    refused("a".repeat(1 << 20), Status.INVALID_ARGUMENT);
    refused("", Status.INVALID_ARGUMENT);
    refused("a\0b", Status.INVALID_ARGUMENT);
  });
});

test("local credentials: the client folder serves too (the orchestrator serves the CLIs with it)", async () => {
  const server = await serve(loadSecurity({ tlsDir: creds.clientTlsDir }));
  try {
    assert.equal(await checkHealth(server.address, "", 5_000, loadSecurity({ tlsDir: creds.clientTlsDir })), "SERVING");
  } finally {
    await server.shutdown(100);
  }
});

test("tlsServerName: a server dialled by an address its certificate does not name is accepted under the name it does carry", async () => {
  const ca = await createCertificateAuthority("names CA");
  const pem = await ca.issue({ commonName: "judge", dnsNames: ["judge-headless.ns.svc"], usage: "server" });
  const s = await serve(loadSecurity({ tlsDir: writeTlsDir(join(dir, "named-server"), pem, ca.cert) }));
  const clientDir = writeTlsDir(join(dir, "named-client"), await ca.issue({ commonName: "orchestrator", usage: "client" }), ca.cert);
  const security = loadSecurity({ tlsDir: clientDir });
  const plain = createClient(JudgeService, s.address, { deadlineMs: 3_000, security });
  const named = createClient(JudgeService, s.address, { deadlineMs: 3_000, security, tlsServerName: "judge-headless.ns.svc" });
  try {
    assert.equal(await code(plain.info({})), Status.UNAVAILABLE, "127.0.0.1 is not in the certificate");
    assert.equal((await named.info({})).modelName, "m");
  } finally {
    plain.close();
    named.close();
    await s.shutdown(100);
  }
});

test("bytes that are not the method's message: INVALID_ARGUMENT naming the type — after the admin check", async () => {
  const server = await serve(loadSecurity({ adminTokenFile: creds.adminTokenFile }));
  const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
  const raw = (method: string, md = new grpc.Metadata()) =>
    new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        `/grpomesh.v1.JudgeService/${method}`,
        () => Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]),
        (b: Buffer) => b,
        {},
        md,
        { deadline: Date.now() + 3_000 },
        (err) => resolve(err),
      ),
    );
  try {
    const garbage = await raw("Score");
    assert.equal(garbage?.code, Status.INVALID_ARGUMENT);
    assert.match(garbage!.details, /the request is not a valid grpomesh\.v1\.ScoreRequest message/);
    const start = loads;
    assert.equal((await raw("LoadModel"))?.code, Status.UNAUTHENTICATED, "unauthenticated callers learn nothing about parsing");
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${readFileSync(creds.adminTokenFile, "utf8").trim()}`);
    assert.equal((await raw("LoadModel", md))?.code, Status.INVALID_ARGUMENT);
    assert.equal(loads, start);
  } finally {
    client.close();
    await server.shutdown(100);
  }
});
