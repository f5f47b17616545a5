import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { BACKEND_ENV, initBackend } from "./backend.ts";

test("a forced backend that is not installed is a clear error, then auto-selection picks wasm here", async () => {
  const lines: string[] = [];
  process.env[BACKEND_ENV] = "node";
  await assert.rejects(initBackend(undefined, { log: false }), /forced by GRPOMESH_TF_BACKEND=node but @tensorflow\/tfjs-node cannot be loaded/);
  process.env[BACKEND_ENV] = "tpu";
  assert.throws(() => initBackend(undefined, { log: false }), /expected one of node-gpu, node, wasm, cpu/);
  delete process.env[BACKEND_ENV];
  const info = await initBackend(undefined, { log: (l) => lines.push(l) });
  assert.equal(info.choice, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.match(info.reason, /tfjs-node-gpu not installed/);
  assert.deepEqual(lines, [info.line]);
  // Idempotent: same answer, no second log line; a conflicting request is refused.
  assert.equal(await initBackend(undefined, { log: (l) => lines.push(l) }), info);
  assert.equal(await initBackend("wasm"), info);
  assert.equal(lines.length, 1);
  await assert.rejects(initBackend("cpu"), /already "wasm"/);
});
