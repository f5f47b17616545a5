import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkProject, findCycles, loadWorkspace, type DepConstraint } from "./boundaries.ts";
import rules from "../boundaries.json" with { type: "json" };

const constraints = rules.depConstraints as DepConstraint[];

function workspace(projects: Record<string, { tags: string[]; deps?: string[]; src: string }>): string {
  const root = mkdtempSync(join(tmpdir(), "lint-ws-"));
  writeFileSync(join(root, "package.json"), JSON.stringify({ workspaces: ["libs/*", "services/*", "tools/*"] }));
  for (const [dir, p] of Object.entries(projects)) {
    mkdirSync(join(root, dir, "src"), { recursive: true });
    const name = `@t/${dir.split("/")[1]}`;
    writeFileSync(
      join(root, dir, "package.json"),
      JSON.stringify({ name, nx: { tags: p.tags }, dependencies: Object.fromEntries((p.deps ?? []).map((d) => [d, "*"])) }),
    );
    writeFileSync(join(root, dir, "src/index.ts"), p.src);
  }
  return root;
}

test("a lib importing a service or tool is refused; a service importing a lib is fine", () => {
  const root = workspace({
    "libs/a": { tags: ["scope:shared", "type:lib"], deps: ["@t/svc"], src: `import { x } from "@t/svc";\n` },
    "libs/b": { tags: ["scope:ml", "type:lib"], deps: ["@t/a"], src: `import { y } from "@t/a";\n` },
    "services/svc": { tags: ["scope:judge", "type:service"], deps: ["@t/b"], src: `import { z } from "@t/b";\n` },
    "tools/t": { tags: ["scope:shared", "type:tool"], deps: ["@t/svc"], src: `import "@t/svc";\n` },
  });
  try {
    const all = loadWorkspace(root);
    const get = (n: string) => all.find((p) => p.name === n)!;
    const a = checkProject(get("@t/a"), all, constraints, root);
    assert.ok(
      a.some((v) => /type:lib\) may only depend on projects tagged type:lib; @t\/svc/.test(v.message)),
      JSON.stringify(a),
    );
    assert.equal(a[0]!.line, 1);
    assert.deepEqual(checkProject(get("@t/b"), all, constraints, root), []);
    assert.deepEqual(checkProject(get("@t/svc"), all, constraints, root), []);
    assert.ok(checkProject(get("@t/t"), all, constraints, root).some((v) => /scope:shared/.test(v.message)));
    assert.deepEqual(findCycles(all).length, 1, "a → svc → b → a is a cycle");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("shared libs may not import ml libs; undeclared deps and relative escapes are reported", () => {
  const root = workspace({
    "libs/s": { tags: ["scope:shared", "type:lib"], src: `import { m } from "@t/m";\nimport q from "../../m/src/index.ts";\n` },
    "libs/m": { tags: ["scope:ml", "type:lib"], src: `export const m = 1;\n` },
  });
  try {
    const all = loadWorkspace(root);
    const v = checkProject(
      all.find((p) => p.name === "@t/s")!,
      all,
      constraints,
      root,
    ).map((x) => x.message);
    assert.ok(v.some((m) => /does not list it in package.json dependencies/.test(m)));
    assert.ok(v.some((m) => /scope:shared\) may only depend on projects tagged scope:shared/.test(m)));
    assert.ok(v.some((m) => /relative import "..\/..\/m\/src\/index.ts" leaves @t\/s; import "@t\/m" instead/.test(m)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
