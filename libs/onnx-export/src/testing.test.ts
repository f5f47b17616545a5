// The WebGPU tests' gate: with no Vulkan driver they skip and say why; under CI=true they fail instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const FIXTURE = fileURLToPath(new URL("./test/webgpu-gate.fixture.ts", import.meta.url));

function runFixture(env: Record<string, string>): { status: number | null; out: string } {
  const inherited = { ...process.env };
  delete inherited.NODE_TEST_CONTEXT; // else the child's runner thinks it is nested in ours and runs nothing
  const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", FIXTURE], {
    encoding: "utf8",
    env: { ...inherited, CI: "", ...env },
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

// The Vulkan loader reads only the drivers VK_ICD_FILENAMES names: a missing file means no driver.
const NO_DRIVER = { VK_ICD_FILENAMES: "/nonexistent/grpomesh_icd.json", VK_DRIVER_FILES: "/nonexistent/grpomesh_icd.json" };

test("without a Vulkan driver a WebGPU test skips, saying why and how to install one", () => {
  const r = runFixture(NO_DRIVER);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /# SKIP SKIPPED \(WebGPU\): no WebGPU adapter: .*npm run setup/);
  assert.doesNotMatch(r.out, /RAN ON WEBGPU/);
});

test("under CI=true a missing adapter fails the WebGPU test instead of skipping it", () => {
  const r = runFixture({ ...NO_DRIVER, CI: "true" });
  assert.notEqual(r.status, 0, r.out);
  assert.match(r.out, /WebGPU tests must run in CI, but no WebGPU adapter/);
});
