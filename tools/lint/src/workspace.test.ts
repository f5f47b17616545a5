// The workspace itself: module boundaries hold and every project type-checks, so `npm test` (what
// CI runs) catches what `npm run lint` and `npm run build` would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { checkProject, findCycles, loadWorkspace, type DepConstraint } from "./boundaries.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const projects = loadWorkspace(root);

test("every project keeps its module boundaries and declares what it imports", () => {
  const { depConstraints } = JSON.parse(readFileSync(join(root, "tools/lint/boundaries.json"), "utf8")) as { depConstraints: DepConstraint[] };
  const problems = projects.flatMap((p) => checkProject(p, projects, depConstraints, root).map((v) => `${v.file}:${v.line}: ${v.message}`));
  assert.deepEqual(problems, []);
  assert.deepEqual(findCycles(projects), []);
});

test("every project type-checks (tsc)", { timeout: 300_000 }, async () => {
  const tsc = join(root, "node_modules/.bin/tsc");
  const run = promisify(execFile);
  const failures: string[] = [];
  const queue = projects.filter((p) => existsSync(join(p.root, "tsconfig.json")));
  const worker = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      try {
        await run(tsc, ["-p", join(p.root, "tsconfig.json")], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
      } catch (err) {
        const e = err as { stdout?: string; message: string };
        failures.push(`${p.name}:\n${(e.stdout || e.message).slice(0, 2000)}`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(failures, []);
});
