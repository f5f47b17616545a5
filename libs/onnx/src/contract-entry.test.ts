// `@grpomesh/onnx/contract` is the judge's way in: checking a model must not load tfjs (the full
// entry pulls the exporter and libs/model, ≈0.7 s of a judge's start). This file imports nothing else.
import { test } from "node:test";
import assert from "node:assert/strict";

/** tfjs-core registers its engine on the global object when its module is evaluated. */
const tfjsLoaded = () => (globalThis as { _tfengine?: unknown })._tfengine !== undefined;

test("the contract entry loads without tfjs; the full entry loads it", async () => {
  const contract = await import("@grpomesh/onnx/contract");
  assert.equal(typeof contract.inspectJudgeModel, "function");
  assert.equal(tfjsLoaded(), false, "@grpomesh/onnx/contract loaded tfjs; keep the exporter and libs/model out of contract.ts's imports");
  const full = await import("@grpomesh/onnx");
  assert.equal(full.inspectJudgeModel, contract.inspectJudgeModel);
  assert.equal(tfjsLoaded(), true, "the full entry should load tfjs (through the exporter); if it no longer does, this check proves nothing");
});
