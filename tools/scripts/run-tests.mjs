#!/usr/bin/env node
// Runs every *.test.ts below the given folders (default: the whole workspace) in one `node --test`
// process tree, so the closing summary counts every test. Node 20 does not expand globs itself.
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { spawnSync } from "node:child_process";

const SKIP = new Set(["node_modules", "dist", ".nx", ".git", "runs", "tmp"]);
function findTests(dir, out) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) findTests(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const passThrough = args.filter((a) => a.startsWith("--"));
const roots = args.filter((a) => !a.startsWith("--"));
const dirs = roots.length ? roots : ["libs", "services", "tools"];
const files = dirs.flatMap((d) => findTests(resolve(d), [])).sort();
if (files.length === 0) {
  console.error(`no *.test.ts files under ${dirs.join(", ")}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...passThrough, ...files.map((f) => relative(process.cwd(), f))],
  { stdio: "inherit", env: { ...process.env, NX_DAEMON: "false" } },
);
process.exit(result.status ?? 1);
