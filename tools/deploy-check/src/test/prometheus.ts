// For tests that run Debian's Prometheus (`promtool`, the `prometheus` server): `npm run setup`
// installs it. Where it is absent the tests skip and say why; in CI (CI=true) they must run.
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";
import { hasCommand } from "../host.ts";

/** True when `commands` are installed; otherwise skips the test with the reason (in CI: throws). */
export function needsPrometheus(t: TestContext, commands: string[] = ["promtool"]): boolean {
  const missing = commands.filter((c) => !hasCommand(c));
  if (!missing.length) return true;
  const message = `${missing.join(" and ")} not installed (Debian's prometheus package; npm run setup installs it)`;
  if (process.env.CI === "true") throw new Error(`the Prometheus tests must run in CI, but ${message}`);
  t.skip(`SKIPPED (Prometheus): ${message}`);
  return false;
}

/** Runs promtool with `args` from `cwd`; returns its exit status and output. */
export function promtool(args: string[], cwd: string, input?: string): { status: number | null; out: string } {
  const r = spawnSync("promtool", args, { cwd, encoding: "utf8", input });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
