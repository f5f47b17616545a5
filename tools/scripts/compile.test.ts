import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { compile, rewritePackageJson, rewriteTsSpecifiers } from "./compile.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("compile.mjs", () => {
  it("rewrites relative .ts specifiers and package exports, nothing else", () => {
    assert.equal(
      rewriteTsSpecifiers(
        `import { a } from "./a.ts";\nconst w = new URL('../w/worker.ts', import.meta.url);\nimport "@x/y.ts";\nconst s = "services/judge/src/main.ts";`,
      ),
      `import { a } from "./a.js";\nconst w = new URL('../w/worker.js', import.meta.url);\nimport "@x/y.ts";\nconst s = "services/judge/src/main.ts";`,
    );
    assert.deepEqual(rewritePackageJson({ name: "p", exports: { ".": "./src/index.ts", "./x": "./src/x.ts" }, dependencies: { a: "1.ts" } }), {
      name: "p",
      exports: { ".": "./src/index.js", "./x": "./src/x.js" },
      dependencies: { a: "1.ts" },
    });
  });

  // Under dist/ of the repository, so that plain node resolves npm packages from its node_modules.
  mkdirSync(join(ROOT, "dist"), { recursive: true });
  const out = mkdtempSync(join(ROOT, "dist", "compile-test-"));
  after(() => rmSync(out, { recursive: true, force: true }));

  it("writes the workspaces as JavaScript that plain node runs (no tsx): a library with relative imports", async () => {
    await compile({ out });
    assert.ok(existsSync(join(out, "services/judge/src/main.js")));
    assert.ok(!existsSync(join(out, "services/judge/src/main.ts")));
    assert.ok(!existsSync(join(out, "libs/autodiff/src/graph.test.js")), "tests are left out");
    assert.equal(JSON.parse(readFileSync(join(out, "libs/autodiff/package.json"), "utf8")).exports["."], "./src/index.js");
    const script = `import(${JSON.stringify(join(out, "libs/autodiff/src/index.js"))}).then((m) => console.log(Object.keys(m).length > 0 ? "ok" : "empty"))`;
    assert.equal(
      execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } }).trim(),
      "ok",
    );
  });

  it("refuses to wipe a folder of the repository outside dist/", async () => {
    await assert.rejects(compile({ out: join(ROOT, "libs") }), /must be under .*dist or outside the repository/);
  });
});
