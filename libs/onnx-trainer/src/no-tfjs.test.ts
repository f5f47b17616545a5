// The engine must not load tfjs at run time (it is the tfjs-free engine): import the package
// entry in a child process whose module resolver refuses every @tensorflow/* specifier.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const hooks = `export async function resolve(specifier, context, next) {
  if (specifier.startsWith("@tensorflow/")) throw new Error("tfjs was imported: " + specifier + " from " + context.parentURL);
  return next(specifier, context);
}`;
const register = `import { register } from "node:module"; register("data:text/javascript,${encodeURIComponent(hooks)}");`;

function importWithGuard(entry: string): { status: number | null; output: string } {
  const script = `const m = await import(${JSON.stringify(entry)}); console.log("loaded", Object.keys(m).length);`;
  const r = spawnSync(
    process.execPath,
    ["--import", `data:text/javascript,${encodeURIComponent(register)}`, "--import", "tsx", "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  return { status: r.status, output: r.stdout + r.stderr };
}

test("importing @grpomesh/onnx-engine loads no @tensorflow module", () => {
  const r = importWithGuard(fileURLToPath(new URL("./index.ts", import.meta.url)));
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /loaded \d+/);
});

test("the guard itself catches a tfjs import (so the test above can fail)", () => {
  const r = importWithGuard("@grpomesh/model");
  assert.notEqual(r.status, 0);
  assert.match(r.output, /tfjs was imported: @tensorflow\/tfjs-core/);
});
