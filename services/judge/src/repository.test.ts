import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RpcError, Status } from "@grpomesh/rpc";
import { openRepository, resolveModelPath, scanRepository } from "./repository.ts";

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

test("a scan lists a model's numbered versions, highest first, and says when the model to follow is ambiguous", async () => {
  const root = mkdtempSync(join(tmpdir(), "judge-scan-"));
  try {
    const put = (rel: string, text = "x") => {
      mkdirSync(join(root, rel, ".."), { recursive: true });
      writeFileSync(join(root, rel), text);
    };
    assert.deepEqual(await scanRepository(root, null), { name: null, versions: [], problem: null });
    for (const v of ["1", "9", "10"]) put(`judge/${v}/model.onnx`);
    put("judge/0/model.onnx"); // versions are positive integers
    put("judge/07/model.onnx"); // …written without leading zeros
    put("judge/latest/model.onnx");
    put("judge/11/model.onnx", ""); // an empty file is not a model yet
    mkdirSync(join(root, "judge", "12")); // nor is a folder without one
    put("notes/readme.txt");
    const scan = await scanRepository(root, null);
    assert.equal(scan.problem, null);
    assert.equal(scan.name, "judge");
    assert.deepEqual(scan.versions.map((v) => v.version), [10, 9, 1]);
    assert.equal(scan.versions[0]!.path, join(root, "judge", "10", "model.onnx"));
    assert.match(scan.versions[0]!.signature, /^1:\d+$/, "size:mtime");

    put("other/3/model.onnx");
    assert.match((await scanRepository(root, null)).problem ?? "", /holds several models \(judge, other\); choose one with --model-name/);
    assert.deepEqual((await scanRepository(root, "other")).versions.map((v) => v.version), [3]);
    assert.match((await scanRepository(root, "missing")).problem ?? "", /has no folder missing \(--model-name\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
