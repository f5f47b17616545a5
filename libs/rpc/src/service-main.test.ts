// runServiceMain as a real process: start line, health, SIGTERM drain and exit 0; exit 2 for a bad
// flag, 1 for a failed start, 0 for --help.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { checkHealth } from "./client.ts";
import { formatStartLine } from "./service-main.ts";

const MAIN = fileURLToPath(new URL("./test/health-only-main.ts", import.meta.url));

function run(args: string[], onLine?: (line: string, kill: () => void) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      const before = stdout.length;
      stdout += d.toString();
      for (const line of stdout.slice(before).split("\n")) if (line) onLine?.(line, () => child.kill("SIGTERM"));
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("start line, SERVING, and exit 0 after draining on SIGTERM", async () => {
  let health: Promise<string> = Promise.resolve("no start line");
  const r = await run([], (line, kill) => {
    const address = /^health-only: serving address=(\S+)/.exec(line)?.[1];
    if (address) health = checkHealth(address).finally(kill);
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await health, "SERVING");
  assert.match(r.stdout, /^health-only: serving address=127\.0\.0\.1:\d+ note="two words"\n/);
  assert.match(r.stdout, /health-only: SIGTERM, finishing in-flight requests \(up to 1 s\) and shutting down/);
});

test("a bad flag exits 2 with the usage, a failed start 1 with the reason, --help 0", async () => {
  const [bad, failed, help] = await Promise.all([run(["--colour=red"]), run(["--fail-start=no model at /x"]), run(["--help"])]);
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
