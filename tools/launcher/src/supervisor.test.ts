import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChildDiedError, Supervisor, freePort } from "./supervisor.ts";

const node = process.execPath;

test("a child that dies is named with its last output, and the others are stopped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-"));
  const sup = new Supervisor(dir);
  try {
    const sleeper = sup.start({ name: "sleeper", command: node, args: ["-e", "setInterval(() => {}, 1000)"] });
    sup.start({ name: "crasher", command: node, args: ["-e", "console.error('model file is corrupt'); setTimeout(() => process.exit(3), 100)"] });
    await assert.rejects(sup.died, (err: ChildDiedError) => {
      assert.equal(err.processName, "crasher");
      assert.equal(err.code, 3);
      assert.match(err.message, /crasher exited unexpectedly \(exit code 3\)/);
      assert.match(err.message, /model file is corrupt/);
      return true;
    });
    await sup.stopAll(2_000);
    assert.notEqual(sleeper.child.exitCode === null && sleeper.child.signalCode === null, true, "sleeper still alive");
    assert.match(readFileSync(join(dir, "crasher.log"), "utf8"), /model file is corrupt/);
  } finally {
    await sup.stopAll(500);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("waitFor returns the exit code of a process expected to finish; stopAll kills the rest", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-"));
  const sup = new Supervisor(dir);
  try {
    const stubborn = sup.start({ name: "stubborn", command: node, args: ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"] });
    sup.start({ name: "job", command: node, args: ["-e", "setTimeout(() => process.exit(0), 100)"] });
    assert.equal(await sup.waitFor("job"), 0);
    await sup.stopAll(300); // stubborn ignores SIGTERM: SIGKILL after the grace period
    assert.equal(stubborn.child.signalCode, "SIGKILL");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("freePort gives distinct ports below the ephemeral range that a server can bind on every interface", async () => {
  const ports: number[] = [];
  for (let i = 0; i < 20; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length, `a port was handed out twice: ${ports}`);
  assert.ok(ports.every((p) => p >= 20_000 && p < 32_768), `ports outside 20000–32767: ${ports}`);
  const { createServer } = await import("node:net");
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(ports[0], "0.0.0.0", () => server.close(() => resolve()));
  });
});
