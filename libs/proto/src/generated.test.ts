// The committed generated code must be exactly what `npm run generate` produces from proto/, and
// the contracts must pass `buf lint`: a proto edit without regeneration fails here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const buf = join(root, "node_modules/.bin/buf");
const committed = join(root, "libs/proto/src/gen");

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

test("buf lint passes on proto/", () => {
  execFileSync(buf, ["lint"], { cwd: root, stdio: "pipe" });
});

test("regenerating from proto/ reproduces the committed code byte for byte", () => {
  const out = mkdtempSync(join(tmpdir(), "grpomesh-gen-"));
  try {
    const template = join(out, "buf.gen.yaml");
    const original = readFileSync(join(root, "buf.gen.yaml"), "utf8");
    writeFileSync(template, original.replace("out: libs/proto/src/gen", `out: ${join(out, "gen")}`));
    assert.notEqual(readFileSync(template, "utf8"), original, "buf.gen.yaml no longer writes to libs/proto/src/gen");
    execFileSync(buf, ["generate", "--template", template], { cwd: root, stdio: "pipe" });
    const fresh = listFiles(join(out, "gen"))
      .map((p) => relative(join(out, "gen"), p))
      .sort();
    const have = listFiles(committed)
      .map((p) => relative(committed, p))
      .sort();
    assert.deepEqual(have, fresh, "generated file list differs: run `npm run generate` and commit");
    for (const rel of fresh) {
      assert.equal(
        readFileSync(join(committed, rel), "utf8"),
        readFileSync(join(out, "gen", rel), "utf8"),
        `${rel} is stale: run \`npm run generate\` and commit the result`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
