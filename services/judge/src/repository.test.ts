import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RpcError, Status } from "@grpomesh/rpc";
import { DEFAULT_MODEL_REPOSITORY, modelRoot, openRepository, resolveModelPath, scanRepository } from "./repository.ts";

test("paths stay inside the model repository, symlinks included; long paths are refused with the value cut", () => {
  const base = mkdtempSync(join(tmpdir(), "judge-repo-"));
  try {
    const root = join(base, "models");
    mkdirSync(join(root, "judge", "2"), { recursive: true });
    writeFileSync(join(root, "judge", "2", "model.onnx"), "x");
    writeFileSync(join(base, "secret.onnx"), "x");
    symlinkSync(join(base, "secret.onnx"), join(root, "link.onnx"));
    symlinkSync(base, join(root, "up"));
    const repo = modelRoot({ model_repository: root, model: "" });
    const real = repo.root;

    assert.equal(resolveModelPath("judge/2/model.onnx", repo), join(real, "judge", "2", "model.onnx"));
    assert.equal(resolveModelPath(join(real, "judge", "2", "model.onnx"), repo), join(real, "judge", "2", "model.onnx"));
    assert.equal(resolveModelPath("judge/../judge/2/model.onnx", repo), join(real, "judge", "2", "model.onnx"));

    const refused = (p: string, code: Status, re: RegExp) =>
      assert.throws(
        () => resolveModelPath(p, repo),
        (e: unknown) => e instanceof RpcError && e.code === code && re.test(e.message),
        p.slice(0, 80),
      );
    const outside = (p: string) => refused(p, Status.PERMISSION_DENIED, /is outside .*models.*only from its model repository \(--model_repository\)/);
    outside("../secret.onnx");
    outside("judge/../../secret.onnx");
    outside(join(base, "secret.onnx"));
    outside("link.onnx");
    outside("up/secret.onnx");
    outside("up/not-there/x.onnx");
    refused("", Status.INVALID_ARGUMENT, /path is empty/);
    refused("a".repeat(4097), Status.INVALID_ARGUMENT, /path is 4097 bytes \("a{80}"… \(4097 characters\)\); paths are at most 4096 bytes/);
    const mib = "judge/".repeat(200_000);
    const t0 = performance.now();
    assert.throws(
      () => resolveModelPath(mib, repo),
      (e: unknown) => e instanceof RpcError && e.code === Status.INVALID_ARGUMENT && e.message.length < 400,
    );
    assert.ok(performance.now() - t0 < 100, "a 1 MiB path is refused without walking it");
    assert.ok(resolveModelPath("a".repeat(4000), repo).endsWith("a".repeat(4000)), "4000 bytes is within the bound");
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("the repository defaults to the real folder of --model, else ./models; a missing configured repository is refused", () => {
  const base = mkdtempSync(join(tmpdir(), "judge-root-"));
  try {
    mkdirSync(join(base, "real"));
    writeFileSync(join(base, "real", "judge.onnx"), "x");
    writeFileSync(join(base, "other.onnx"), "x");
    symlinkSync(join(base, "real", "judge.onnx"), join(base, "link.onnx"));
    const fromModel = modelRoot({ model_repository: "", model: join(base, "real", "judge.onnx") });
    assert.deepEqual(fromModel, { root: join(base, "real"), source: "the folder of --model", startModel: join(base, "real", "judge.onnx") });
    // A start model that is a link: the folder it really lies in, so a sibling of the link is outside.
    const viaLink = modelRoot({ model_repository: "", model: join(base, "link.onnx") });
    assert.equal(viaLink.root, join(base, "real"));
    assert.throws(
      () => resolveModelPath(join(base, "other.onnx"), viaLink),
      (e: unknown) => e instanceof RpcError && e.code === Status.PERMISSION_DENIED,
    );
    assert.deepEqual(modelRoot({ model_repository: "", model: "" }), {
      root: resolve(DEFAULT_MODEL_REPOSITORY),
      source: "default ./models",
      startModel: null,
    });
    assert.equal(modelRoot({ model_repository: base, model: "real/judge.onnx" }).startModel, join(base, "real", "judge.onnx"));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  assert.throws(() => openRepository("/nonexistent/judge-models"), /model repository \/nonexistent\/judge-models is not a directory/);
  assert.throws(() => modelRoot({ model_repository: "/nonexistent/judge-models", model: "" }), /is not a directory/);
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
    assert.deepEqual(
      scan.versions.map((v) => v.version),
      [10, 9, 1],
    );
    assert.equal(scan.versions[0]!.path, join(root, "judge", "10", "model.onnx"));
    assert.match(scan.versions[0]!.signature, /^1:\d+$/, "size:mtime");

    put("other/3/model.onnx");
    assert.match((await scanRepository(root, null)).problem ?? "", /holds several models \(judge, other\); choose one with --model_name/);
    assert.deepEqual(
      (await scanRepository(root, "other")).versions.map((v) => v.version),
      [3],
    );
    assert.match((await scanRepository(root, "missing")).problem ?? "", /has no folder missing \(--model_name\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
