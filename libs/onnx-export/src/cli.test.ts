import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { expectedTensorShapes, saveCheckpoint, validateConfig } from "@grpomesh/model";
import type { ModelType } from "@grpomesh/model";
import { Rng } from "@grpomesh/rng";
import { runExportCli } from "./cli.ts";
import { inspectJudgeModel, readModelMetadata } from "./contract.ts";

function writeCheckpoint(dir: string, modelType: ModelType): void {
  const config = validateConfig({
    model_type: modelType,
    vocab_size: 6,
    seq_len: 8,
    n_layer: 1,
    n_head: 2,
    d_model: 8,
    d_ff: 16,
    dropout: 0,
    ln_eps: 1e-5,
    activation: "gelu_tanh",
    vocab: ["[PAD]", "[MASK]", "a", "b", " ", "."],
    mask_token_id: 1,
    pad_token_id: 0,
  });
  const rng = new Rng(5);
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of expectedTensorShapes(config))
    weights.set(
      name,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.1),
    );
  saveCheckpoint(dir, { config, weights });
}

test("the CLI exports a scorer checkpoint to a judge file with version, name and weights digest", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "onnx-cli-"));
  try {
    writeCheckpoint(join(tmp, "ckpt"), "sequence_scorer");
    const lines: string[] = [];
    const result = runExportCli([join(tmp, "ckpt"), join(tmp, "out", "judge.onnx"), "--version=judge-v7", "--name=cli test"], (l) => lines.push(l));
    const bytes = readFileSync(join(tmp, "out", "judge.onnx"));
    assert.equal(result.bytes, bytes.length);
    const info = inspectJudgeModel(bytes, await ort.InferenceSession.create(bytes));
    assert.equal(info.version, "judge-v7");
    assert.equal(info.name, "cli test");
    assert.equal(info.metadata["grpomesh.weights_sha256"], result.digest);
    assert.match(lines[0]!, /^wrote .*judge\.onnx: sequence_scorer, .* MB, weights sha256 [0-9a-f]{12}…, version judge-v7$/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("the CLI exports a generator too (metadata says masked_lm)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "onnx-cli-"));
  try {
    writeCheckpoint(join(tmp, "gen"), "masked_lm");
    runExportCli([join(tmp, "gen"), join(tmp, "gen.onnx")], () => {});
    assert.equal(readModelMetadata(readFileSync(join(tmp, "gen.onnx")))["grpomesh.model_type"], "masked_lm");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("the CLI refuses bad arguments with its usage", () => {
  assert.throws(
    () => runExportCli(["only-one"]),
    /expected a checkpoint folder and an output path; got 1 argument\(s\): node --import tsx libs\/onnx-export\/src\/cli\.ts <checkpoint-dir> <out\.onnx>/,
  );
  assert.throws(() => runExportCli(["a", "b", "--vresion=1"]), /unknown option --vresion; did you mean --version\?/);
  assert.throws(() => runExportCli(["a", "b", "c"]), /got 3 positional argument\(s\)/);
  assert.throws(() => runExportCli(["/nonexistent/ckpt", "out.onnx"]), /no config\.json in \/nonexistent\/ckpt/);
});
