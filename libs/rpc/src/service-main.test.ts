// runServiceMain as a real process: start line, health, SIGTERM drain and exit 0; exit 2 for a bad
// flag, 1 for a failed start, 0 for --help.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { formatStartLine } from "./service-main.ts";
import { runTsx, runUntilServing } from "./testing.ts";

const MAIN = fileURLToPath(new URL("./test/health-only-main.ts", import.meta.url));

test("start line, SERVING, and exit 0 after draining on SIGTERM", async () => {
  const r = await runUntilServing(MAIN, [], { name: "health-only" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.health, "SERVING");
  assert.equal(r.startLines.length, 1, r.stdout);
  assert.match(r.stdout, /^health-only: serving address=127\.0\.0\.1:\d+ note="two words"\n/);
  assert.match(r.stdout, /health-only: SIGTERM, finishing in-flight requests \(up to 1 s\) and shutting down/);
});

test("a bad flag exits 2 with the usage, a failed start 1 with the reason, --help 0", async () => {
  const [bad, failed, help] = await Promise.all([runTsx(MAIN, ["--colour=red"]), runTsx(MAIN, ["--fail-start=no model at /x"]), runTsx(MAIN, ["--help"])]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "health-only: unknown flag --colour=red\nusage: health-only-main.ts [--address=host:port] [--fail-start=reason]\n");
  assert.equal(failed.code, 1);
  assert.equal(failed.stderr, "health-only: cannot start: no model at /x\n");
  assert.equal(failed.stdout, "");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: health-only-main\.ts/);
});

test("start-line values with spaces are quoted", () => {
  assert.equal(formatStartLine("svc", [["a", 1], ["b", "x y"], ["c", "-"]]), 'svc: serving a=1 b="x y" c=-');
});
