import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createLocalCredentials, loadSecurity, startServer, type RunningServer } from "@grpomesh/rpc";
import { REPO_ROOT } from "./bundle.ts";

// The images' HEALTHCHECK script against a real gRPC health service.
const SCRIPT = join(REPO_ROOT, "deploy/images/healthcheck.mjs");

function check(...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { cwd: REPO_ROOT, timeout: 15_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

describe("deploy/images/healthcheck.mjs", () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ address: "127.0.0.1:0", services: [], initiallyServing: false });
  });
  after(async () => {
    await server.shutdown(500);
  });

  it("fails while the service is NOT_SERVING and passes once it is SERVING", async () => {
    server.setServing(false);
    const down = await check(server.address);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /is NOT_SERVING/);
    server.setServing(true);
    assert.deepEqual(await check(server.address), { code: 0, stderr: "" });
  });

  it("fails for a service name the server does not know", async () => {
    server.setServing(true);
    const r = await check(server.address, "grpomesh.v1.NoSuchService");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NoSuchService/);
  });

  it("fails when nothing listens, and refuses a malformed target with exit 2", async () => {
    const closed = await startServer({ address: "127.0.0.1:0", services: [] });
    const address = closed.address;
    await closed.shutdown(0);
    const r = await check(address, "", "1000");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /healthcheck: 127\.0\.0\.1:\d+/);
    assert.equal((await check("localhost")).code, 2);
  });
});

describe("deploy/images/healthcheck.mjs --tls_dir (the manifests' exec probes)", () => {
  const dir = mkdtempSync(join(tmpdir(), "deploy-check-hc-"));
  let server: RunningServer;
  let clientTlsDir: string;
  before(async () => {
    const creds = await createLocalCredentials(join(dir, "creds"));
    clientTlsDir = creds.clientTlsDir;
    server = await startServer({ address: "127.0.0.1:0", services: [], security: loadSecurity({ tlsDir: creds.serverTlsDir }) });
  });
  after(async () => {
    await server.shutdown(500);
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes over mutual TLS with a client certificate of the server's CA, and fails in plaintext", async () => {
    assert.deepEqual(await check(server.address, "", "5000", `--tls_dir=${clientTlsDir}`), { code: 0, stderr: "" });
    const plain = await check(server.address, "", "2000");
    assert.equal(plain.code, 1);
  });

  it("refuses a TLS folder without its files, and unknown options, with exit 2", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    const r = await check(server.address, "", "2000", `--tls_dir=${empty}`);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--tls_dir=.*empty has no ca\.crt; expected tls\.crt, tls\.key and ca\.crt/);
    assert.equal((await check(server.address, "--tls=yes")).code, 2);
  });
});
