// `@grpomesh/onnx-export` (the contract the judge checks models with and the exporter) must not
// load tfjs: ≈0.7 s of a judge's start, and the onnxruntime engine builds on it. This file imports nothing else.
import { test } from "node:test";
import assert from "node:assert/strict";

/** tfjs-core registers its engine on the global object when its module is evaluated. */
const tfjsLoaded = () => (globalThis as { _tfengine?: unknown })._tfengine !== undefined;

test("the contract entry and the full entry (exporter included) load without tfjs; @grpomesh/model loads it", async () => {
  const contract = await import("@grpomesh/onnx-export/contract");
  assert.equal(typeof contract.inspectJudgeModel, "function");
  const full = await import("@grpomesh/onnx-export");
  assert.equal(full.inspectJudgeModel, contract.inspectJudgeModel);
  assert.equal(typeof full.exportModelToOnnx, "function");
  assert.equal(tfjsLoaded(), false, "@grpomesh/onnx-export loaded tfjs; import @grpomesh/model/format and /forward, not the package root");
  await import("@grpomesh/model");
  assert.equal(tfjsLoaded(), true, "@grpomesh/model should load tfjs; if it no longer does, this check proves nothing");
});
