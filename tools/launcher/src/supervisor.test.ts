import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkHealth, waitForServing } from "@grpomesh/rpc";
import { tsxProcess } from "./stack.ts";
import { ChildDiedError, Supervisor, freePort, runJob, type ProcessSpec } from "./supervisor.ts";

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

test("a name is started again once its process is gone for good, never while it runs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-"));
  const sup = new Supervisor(dir);
  const job = (word: string): ProcessSpec => ({
    name: "job",
    command: node,
    args: ["-e", "console.log(process.argv.at(-1)); setInterval(() => {}, 1000)", word],
    readyLine: /^(first|second)$/,
  });
  try {
    await sup.startAll([job("first")]);
    assert.throws(() => sup.start(job("second")), /a process named job is already supervised/);
    await sup.stop("job");
    await sup.startAll([job("second")]);
    assert.equal(sup.get("job").startLine, "second");
  } finally {
    await sup.stopAll(500);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("freePort gives distinct ports below the ephemeral range that a server can bind on every interface", async () => {
  const ports: number[] = [];
  for (let i = 0; i < 20; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length, `a port was handed out twice: ${ports}`);
  assert.ok(
    ports.every((p) => p >= 20_000 && p < 32_768),
    `ports outside 20000–32767: ${ports}`,
  );
  const { createServer } = await import("node:net");
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(ports[0], "0.0.0.0", () => server.close(() => resolve()));
  });
});

/** The fixture prints its start line after installing its signal handlers. */
async function untilStartLine(sup: Supervisor, name: string): Promise<void> {
  const until = Date.now() + 60_000;
  while (sup.get(name).startLine === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.ok(sup.get(name).startLine, `${name} printed no start line`);
}

const lineService = (name: string, flags: string[], extra: Partial<ProcessSpec> = {}): ProcessSpec =>
  tsxProcess(name, "tools/launcher/src/test/line-service.ts", [`--name=${name}`, ...flags], extra);

test("a service that answers health before it prints its start line is ready only after the line", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-"));
  const sup = new Supervisor(dir);
  try {
    const address = `127.0.0.1:${await freePort()}`;
    let line: string | undefined;
    let healthBeforeLine = false;
    const t0 = Date.now();
    const starting = sup.startAll(
      [lineService("slow", [`--address=${address}`, "--line-delay-ms=2000"], { healthTarget: address, readyLine: /^slow: serving / })],
      {
        timeoutMs: 60_000,
        onReady: (_name, _ms, proc) => (line = proc.startLine),
      },
    );
    // The race the launcher used to lose: health answers SERVING while the start line is not yet written.
    await waitForServing(address, { timeoutMs: 60_000, intervalMs: 50 });
    healthBeforeLine = sup.get("slow").startLine === undefined;
    await starting;
    assert.ok(healthBeforeLine, "the fixture printed its line before health answered; the test shows nothing");
    assert.match(line ?? "(no start line when ready)", /^slow: serving address=127\.0\.0\.1:\d+ note="two words"$/);
    assert.ok(Date.now() - t0 >= 2_000);
  } finally {
    await sup.stopAll(2_000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a restartable service that keeps dying is restarted with doubling backoff, then given up", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-"));
  const said: string[] = [];
  const sup = new Supervisor(dir, { say: (l) => said.push(l) });
  const starts = join(dir, "starts");
  try {
    const script =
      "require('fs').appendFileSync(process.env.STARTS, Date.now() + '\\n'); console.log('flaky: serving'); setTimeout(() => process.exit(7), 100)";
    await sup.startAll([
      {
        name: "flaky",
        command: node,
        args: ["-e", script],
        env: { STARTS: starts },
        readyLine: /^flaky: serving/,
        restart: { initialBackoffMs: 300, maxQuickFailures: 3, quickMs: 30_000 },
      },
    ]);
    await assert.rejects(sup.died, (err: ChildDiedError) => {
      assert.equal(err.processName, "flaky");
      assert.equal(err.code, 7);
      assert.match(err.message, /flaky died again \(exit code 7\); gave up restarting it after 3 failures in a row/);
      return true;
    });
    const times = readFileSync(starts, "utf8").trim().split("\n").map(Number);
    assert.equal(times.length, 3, "started once and restarted twice");
    assert.ok(times[1]! - times[0]! >= 100 + 300, `first restart after ${times[1]! - times[0]!} ms; expected ≥ 100 ms run + 300 ms backoff`);
    assert.ok(times[2]! - times[1]! >= 100 + 600, `second restart after ${times[2]! - times[1]!} ms; expected ≥ 100 ms run + 600 ms backoff`);
    assert.equal(sup.get("flaky").restarts, 2);
    assert.match(
      said[0]!,
      /^flaky exited unexpectedly \(exit code 7; log .*flaky\.log\); restarting it in 0\.3 s \(restart 1; gives up after 3 quick failures in a row\)/,
    );
    assert.match(
      said.find((l) => l.includes("restart 2"))!,
      /restarting it in 0\.6 s/,
    );
  } finally {
    await sup.stopAll(2_000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a killed service is restarted on its address while the others keep running; a service that cannot start is fatal", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-"));
  const said: string[] = [];
  const sup = new Supervisor(dir, { say: (l) => said.push(l) });
  let fatal: unknown;
  sup.died.catch((err) => (fatal = err));
  try {
    const address = `127.0.0.1:${await freePort()}`;
    await sup.startAll(
      [
        lineService("replica", [`--address=${address}`], { healthTarget: address, readyLine: /^replica: serving /, restart: { initialBackoffMs: 100 } }),
        { name: "other", command: node, args: ["-e", "console.log('other: serving'); setInterval(() => {}, 1000)"], readyLine: /^other: serving/ },
      ],
      { timeoutMs: 60_000 },
    );
    const other = sup.get("other").child;
    const first = sup.get("replica").child.pid;
    sup.signal("replica", "SIGKILL");
    const until = Date.now() + 60_000;
    while (!said.some((l) => l.startsWith("replica restarted and ready again")) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.match(said[0]!, /^replica exited unexpectedly \(signal SIGKILL; .*restarting it in 0\.1 s \(restart 1;/);
    assert.match(said[1] ?? "(not restarted)", /^replica restarted and ready again \(.* s; 1 restart\(s\) so far\)$/);
    assert.notEqual(sup.get("replica").child.pid, first);
    assert.equal(await checkHealth(address), "SERVING");
    assert.equal(other.exitCode, null, "a restart must not touch the other processes");
    assert.equal(fatal, undefined);
    assert.match(readFileSync(sup.logPath("replica"), "utf8"), /replica exited \(signal SIGKILL\); restarting in 100 ms/);
  } finally {
    await sup.stopAll(2_000);
  }
  // Restarts are for what once served: a restartable process that dies while starting fails at once.
  const sup2 = new Supervisor(dir);
  try {
    await assert.rejects(
      sup2.startAll([
        { name: "broken", command: node, args: ["-e", "console.error('bad model'); process.exit(2)"], readyLine: /^broken: serving/, restart: {} },
      ]),
      (err: ChildDiedError) => err.processName === "broken" && err.code === 2 && /bad model/.test(err.message) && err.gaveUp === undefined,
    );
  } finally {
    await sup2.stopAll(2_000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("when a service dies, the job is stopped with SIGINT and only after it exited are the others stopped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-"));
  const sup = new Supervisor(dir);
  const events = join(dir, "events");
  try {
    await sup.startAll(
      [
        // Dies (SIGKILL) once the test creates the file GO.
        {
          name: "policy",
          command: node,
          args: [
            "-e",
            "console.log('policy: serving'); console.log('last words'); setInterval(() => require('fs').existsSync(process.env.GO) && process.kill(process.pid, 'SIGKILL'), 20)",
          ],
          env: { GO: join(dir, "go") },
          readyLine: /^policy: serving/,
        },
        lineService("judge", [`--on-term-file=${events}`], { readyLine: /^judge: serving/ }),
      ],
      { timeoutMs: 60_000 },
    );
    let noticedWhileRunning: boolean | undefined;
    // The job takes 700 ms to stop after SIGINT and then fails, as the orchestrator does without its policy.
    const running = runJob(
      sup,
      lineService("orchestrator", [`--on-term-file=${events}`, "--term-delay-ms=700", "--exit-code=1"], { readyLine: /^orchestrator: serving/ }),
      {
        onDeath: (_err, running) => (noticedWhileRunning = running),
      },
    );
    await untilStartLine(sup, "orchestrator");
    writeFileSync(join(dir, "go"), "");
    const outcome = await running;
    assert.equal(outcome.died?.processName, "policy");
    assert.equal(outcome.died?.signal, "SIGKILL");
    assert.match(outcome.died!.message, /policy exited unexpectedly \(signal SIGKILL\); last output:\n.*\n  \| last words/);
    assert.equal(outcome.code, 1);
    assert.equal(noticedWhileRunning, true);
    const lines = readFileSync(events, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    assert.deepEqual(
      lines.map((l) => `${l[0]} ${l[2]}`),
      ["orchestrator SIGINT", "judge SIGTERM"],
      "the job must stop (on SIGINT) before anything else is stopped",
    );
    assert.ok(Number(lines[1]![3]) >= Number(lines[0]![3]));
  } finally {
    await sup.stopAll(2_000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stopAll stops what started last first: the job before the services it needs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sup-"));
  const sup = new Supervisor(dir);
  const events = join(dir, "events");
  try {
    await sup.startAll([lineService("service", [`--on-term-file=${events}`], { readyLine: /^service: serving/ })], { timeoutMs: 60_000 });
    sup.start(lineService("job", [`--on-term-file=${events}`, "--term-delay-ms=700"], { readyLine: /^job: serving/ }));
    await untilStartLine(sup, "job");
    await sup.stopAll(10_000);
    assert.deepEqual(
      readFileSync(events, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[0]),
      ["job", "service"],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
