// `npm start` as the end-to-end tests run it: the launcher as a child process from the repository
// root, its whole output returned once it has exited 0 (anything else fails the test with the tail).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../settings.ts";

export function npmStart(args: readonly string[], timeoutMs = 540_000): string {
  const res = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools/launcher/src/main.ts"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: timeoutMs,
  });
  const output = `${res.stdout}\n${res.stderr}`;
  assert.equal(res.status, 0, `launcher failed:\n${output.slice(-4000)}`);
  return output;
}
