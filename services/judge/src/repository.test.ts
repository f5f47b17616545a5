import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RpcError, Status } from "@grpomesh/rpc";
import { openRepository, resolveModelPath } from "./repository.ts";

test("paths stay inside the model repository, symlinks included", () => {
  const base = mkdtempSync(join(tmpdir(), "judge-repo-"));
  try {
    const root = join(base, "models");
    mkdirSync(join(root, "judge", "2"), { recursive: true });
    writeFileSync(join(root, "judge", "2", "model.onnx"), "x");
    writeFileSync(join(base, "secret.onnx"), "x");
    symlinkSync(join(base, "secret.onnx"), join(root, "link.onnx"));
    const real = openRepository(root);

    assert.equal(resolveModelPath("judge/2/model.onnx", real), join(real, "judge", "2", "model.onnx"));
    assert.equal(resolveModelPath(join(real, "judge", "2", "model.onnx"), real), join(real, "judge", "2", "model.onnx"));
    assert.equal(resolveModelPath("judge/../judge/2/model.onnx", real), join(real, "judge", "2", "model.onnx"));

    const outside = (p: string) =>
      assert.throws(() => resolveModelPath(p, real), (e: unknown) => e instanceof RpcError && e.code === Status.INVALID_ARGUMENT && /outside the model repository/.test(e.message));
    outside("../secret.onnx");
    outside("judge/../../secret.onnx");
    outside(join(base, "secret.onnx"));
    outside("link.onnx");
    assert.throws(() => resolveModelPath("", real), /path is empty/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("without a repository paths resolve against the working directory; a missing repository is refused", () => {
  assert.equal(resolveModelPath("models/judge/model.onnx", null), resolve("models/judge/model.onnx"));
  assert.throws(() => openRepository("/nonexistent/judge-models"), /model repository \/nonexistent\/judge-models is not a directory/);
});
