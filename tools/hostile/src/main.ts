// The long hostile run: `npm run hostile -- --minutes=3 --seed=7`. Starts the same stack as the
// test, sends randomized hostile requests (seeded) with bounded concurrency for N minutes, checks
// health as it goes and the run state at the end, prints a table per service × method, and exits
// non-zero on any violation.
import { parseCommandLine } from "@grpomesh/config";
import { randomCall } from "./runner.ts";
import { HostileSession } from "./session.ts";
import { HOSTILE_ENV_PREFIX, HOSTILE_SETTINGS } from "./settings.ts";

async function main(): Promise<number> {
  const { minutes, seed, concurrency, keep } = parseCommandLine(HOSTILE_SETTINGS, "npm run hostile --", { envPrefix: HOSTILE_ENV_PREFIX }).config;

  const log = (line: string) => console.log(`[hostile] ${line}`);
  log(`starting policy, reference, judge and orchestrator (mTLS, admin token, seed ${seed})…`);
  const session = await HostileSession.start({ seed, concurrency, log, keep });
  try {
    log(`sending hostile requests for ${minutes} min, ${concurrency} at a time`);
    const started = Date.now();
    const endAt = started + minutes * 60_000;
    let nextReport = started + 10_000;
    let nextHealth = started + 15_000;
    const healthChecks: Promise<unknown>[] = [];
    await session.run(() => {
      const now = Date.now();
      if (now >= endAt) return undefined;
      if (now >= nextReport) {
        nextReport += 10_000;
        const s = (now - started) / 1000;
        log(`${Math.round(s)} s: ${session.tally.calls} calls (${(session.tally.calls / s).toFixed(1)}/s), ${session.tally.violations.length} violations`);
      }
      if (now >= nextHealth) {
        nextHealth += 15_000;
        healthChecks.push(session.checkHealth(`at ${Math.round((now - started) / 1000)} s`).then((p) => p.forEach((x) => log(`HEALTH: ${x}`))));
      }
      return randomCall(session.cases, session.values, session.stack.facts);
    });
    await Promise.all(healthChecks);
    await session.checkHealth("at the end");
    const changes = await session.stateChanges();
    const elapsed = (Date.now() - started) / 1000;
    console.log(`\n${session.tally.calls} hostile calls in ${elapsed.toFixed(0)} s (seed ${seed}, concurrency ${concurrency})\n`);
    console.log(session.tally.table());
    const violations = session.tally.violations.length;
    if (violations) console.log(`\n${violations} violations:\n${session.tally.violationReport()}`);
    if (session.healthProblems.length) console.log(`\nhealth:\n${session.healthProblems.map((p) => `  ${p}`).join("\n")}`);
    if (changes.length) console.log(`\nrun state changed:\n${changes.map((c) => `  ${c}`).join("\n")}`);
    const ok = violations === 0 && session.healthProblems.length === 0 && changes.length === 0;
    console.log(ok ? "\nno violations: every service stayed up, answered specifically and changed nothing" : "\nFAILED: see above");
    if (keep) console.log(`temp folder kept: ${session.stack.dir}`);
    return ok ? 0 : 1;
  } finally {
    await session.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[hostile] error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
