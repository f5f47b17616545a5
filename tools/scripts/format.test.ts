// Every TypeScript and JavaScript file is formatted by prettier (.prettierrc.json; generated code
// and data are left out in .prettierignore). Fix with: npx prettier --write "**/*.{ts,mjs}"
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import * as prettier from "prettier";

const REPO_ROOT = resolve(import.meta.dirname, "../..");

test("the code is formatted (prettier --check)", () => {
  const run = spawnSync(process.execPath, [join(REPO_ROOT, "node_modules/prettier/bin/prettier.cjs"), "--check", "**/*.{ts,mjs}"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  assert.equal(run.status, 0, `prettier found unformatted files; run: npx prettier --write "**/*.{ts,mjs}"\n${run.stdout}${run.stderr}`);
});

test("the check sees a difference: badly formatted code is not accepted as formatted", async () => {
  const options = { ...(await prettier.resolveConfig(join(REPO_ROOT, "x.ts"))), filepath: join(REPO_ROOT, "x.ts") };
  assert.equal(await prettier.check("const  a = {b:1}\n", options), false);
  assert.equal(await prettier.check("const a = { b: 1 };\n", options), true);
});
