import { test } from "node:test";
import assert from "node:assert/strict";
import { engineLine, startLineFields } from "./stack.ts";

test("the launcher's engine line comes from the policy's start line, quoted values included", () => {
  const line = 'policy: serving address=127.0.0.1:1 engine="onnxruntime cpu, 2 threads" engine_reason="auto: no GPU engine installed" checkpoint=x';
  assert.equal(engineLine(line), "policy engine: onnxruntime cpu, 2 threads (auto: no GPU engine installed)");
  assert.equal(engineLine("policy: serving address=127.0.0.1:1 engine=tfjs checkpoint=x"), "policy engine: tfjs");
  assert.match(engineLine("policy: serving address=127.0.0.1:1"), /^policy engine: not on its start line/);
});

test("start-line fields: plain and JSON-quoted values", () => {
  const fields = startLineFields('judge: serving address=127.0.0.1:5 model="a \\"b\\" c" tls=mtls');
  assert.equal(fields.get("address"), "127.0.0.1:5");
  assert.equal(fields.get("model"), 'a "b" c');
  assert.equal(fields.get("tls"), "mtls");
});
