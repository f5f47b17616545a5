// runServiceMain as a real process: start line, health, SIGTERM drain and exit 0; exit 2 for a bad
// setting, 1 for a failed start, 0 for --help; a service that finishes by itself exits with its own code
// and stops at a safe point on the first signal, at once on the second.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { commandLine, formatStartLine } from "./service-main.ts";
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

test("a bad setting exits 2 with the message, a failed start 1 with the reason, --help 0 with the table's usage", async () => {
  const [bad, badEnv, failed, help] = await Promise.all([
    runTsx(MAIN, ["--adress=127.0.0.1:0"]),
    runTsx(MAIN, [], { env: { HEALTH_ONLY_ADDRESS: "" } }),
    runTsx(MAIN, ["--fail-start=no model at /x"]),
    runTsx(MAIN, ["--help"]),
  ]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "health-only: unknown option --adress; did you mean --address?\n(health-only-main.ts --help lists every setting)\n");
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /^health-only: environment variable HEALTH_ONLY_ADDRESS is ""; expected a non-empty string\n/);
  assert.equal(failed.code, 1);
  assert.equal(failed.stderr, "health-only: cannot start: no model at /x\n");
  assert.equal(failed.stdout, "");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: health-only-main\.ts/);
  assert.match(help.stdout, /--fail_start {2}\(a string; default ""\) {2}\[env HEALTH_ONLY_FAIL_START\]\n {6}start throws this reason/);
});

test("start-line values with spaces are quoted", () => {
  assert.equal(
    formatStartLine("svc", [
      ["a", 1],
      ["b", "x y"],
      ["c", "-"],
    ]),
    'svc: serving a=1 b="x y" c=-',
  );
});

const FINISHING = fileURLToPath(new URL("./test/finishing-main.ts", import.meta.url));

test("a service that finishes by itself exits with done's code; a failed run exits 1 with the reason", async () => {
  const [finished, three, failed, bad] = await Promise.all([
    runTsx(FINISHING, ["--exit_code=0"]),
    runTsx(FINISHING, ["--exit_code=3"]),
    runTsx(FINISHING, ["--fail=the judge went away"]),
    runTsx(FINISHING, ["--colour=red"]),
  ]);
  assert.deepEqual([finished.code, finished.stdout, finished.stderr], [0, "[finishing] started\n", ""]);
  assert.equal(three.code, 3);
  assert.equal(failed.code, 1);
  assert.equal(failed.stderr, "[finishing] error: the judge went away\n");
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "[finishing] unknown option --colour; known keys: --exit_code, --fail, --stuck\n(finishing-main.ts --help lists every setting)\n");
});

test("with stop: the first signal asks the service to stop (done gives the code), a second exits 130 at once", async () => {
  const once = await runTsx(FINISHING, [], { onLine: (line, kill) => line === "[finishing] started" && kill("SIGTERM") });
  assert.equal(once.code, 130, once.stderr);
  assert.equal(once.stdout, "[finishing] started\n[finishing] SIGTERM: stopping at the next safe point\n");
  const twice = await runTsx(FINISHING, ["--stuck"], {
    onLine(line, kill) {
      if (line === "[finishing] started") kill("SIGINT");
      if (line.includes("stopping at the next safe point")) kill("SIGINT");
    },
  });
  assert.equal(twice.code, 130, twice.stderr);
  assert.equal(twice.stdout, "[finishing] started\n[finishing] SIGINT: stopping at the next safe point\n");
});

test("commandLine: through tsx from sources, plain node when compiled; relative to the working directory below it", () => {
  const cwd = process.cwd();
  assert.equal(commandLine(pathToFileURL(join(cwd, "services/judge/src/main.ts")).href), "node --import tsx services/judge/src/main.ts");
  assert.equal(commandLine(pathToFileURL(join(cwd, "services/judge/src/main.js")).href), "node services/judge/src/main.js");
  assert.equal(commandLine("file:///elsewhere/main.js"), "node /elsewhere/main.js");
});
