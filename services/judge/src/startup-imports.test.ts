// The judge process must start without tfjs (≈0.7 s of import time it never uses): the server and
// everything it imports reach libs/onnx-export only through its tfjs-free `contract` entry.
import { test } from "node:test";
import assert from "node:assert/strict";

test("importing the judge server does not load tfjs", async () => {
  const { startJudgeServer } = await import("./judge-server.ts");
  assert.equal(typeof startJudgeServer, "function");
  assert.equal(
    (globalThis as { _tfengine?: unknown })._tfengine,
    undefined,
    "judge-server.ts loaded tfjs; import @grpomesh/onnx-export/contract, not @grpomesh/onnx-export",
  );
});
