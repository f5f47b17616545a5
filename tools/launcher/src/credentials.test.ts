import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority, writeTlsDir } from "@grpomesh/rpc";
import { runCredentials } from "./stack.ts";

test("a run's credentials are made fresh, reused on resume, and replaced when incomplete or about to expire", async () => {
  const dir = mkdtempSync(join(tmpdir(), "launcher-creds-"));
  try {
    const secrets = join(dir, "secrets");
    const first = await runCredentials(secrets, { reuse: false });
    assert.equal(first.reused, false);
    const token = readFileSync(first.credentials.adminTokenFile, "utf8");
    for (const tls of [first.credentials.serverTlsDir, first.credentials.clientTlsDir])
      for (const f of ["tls.crt", "tls.key", "ca.crt"]) readFileSync(join(tls, f));

    const resumed = await runCredentials(secrets, { reuse: true });
    assert.equal(resumed.reused, true);
    assert.equal(readFileSync(resumed.credentials.adminTokenFile, "utf8"), token, "--resume must keep the run's token");

    const fresh = await runCredentials(secrets, { reuse: false });
    assert.notEqual(readFileSync(fresh.credentials.adminTokenFile, "utf8"), token, "a new run gets a new token");

    unlinkSync(join(fresh.credentials.clientTlsDir, "tls.key"));
    const repaired = await runCredentials(secrets, { reuse: true });
    assert.equal(repaired.reused, false);
    assert.match(repaired.reason!, /client\/tls\.key is missing/);

    const ca = await createCertificateAuthority();
    const expiring = await ca.issue({ commonName: "old", ips: ["127.0.0.1"], usage: "server", notAfter: new Date(Date.now() + 3600_000) });
    writeTlsDir(repaired.credentials.serverTlsDir, expiring, ca.cert);
    const renewed = await runCredentials(secrets, { reuse: true });
    assert.equal(renewed.reused, false);
    assert.match(renewed.reason!, /server\/tls\.crt expires /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
