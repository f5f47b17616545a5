import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { engineLine } from "./stack.ts";

test("the launcher's engine line comes from the policy's start line, quoted values included", () => {
  const dir = mkdtempSync(join(tmpdir(), "engine-line-"));
  try {
    const log = join(dir, "policy.log");
    writeFileSync(log, 'loading\npolicy: serving address=127.0.0.1:1 engine="onnxruntime cpu, 2 threads" engine_reason="auto: no GPU engine installed" checkpoint=x\n');
    assert.equal(engineLine(log), "policy engine: onnxruntime cpu, 2 threads (auto: no GPU engine installed)");
    writeFileSync(log, "policy: serving address=127.0.0.1:1 engine=tfjs checkpoint=x\n");
    assert.equal(engineLine(log), "policy engine: tfjs");
    writeFileSync(log, "still loading\n");
    assert.equal(engineLine(log), `policy engine: see ${log}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
