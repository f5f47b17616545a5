import { test } from "node:test";
import assert from "node:assert/strict";
import { engineLine, judgeProviderLine, startLineFields } from "./stack.ts";

test("the launcher's engine line comes from the policy's start line, quoted values included", () => {
  const line = 'policy: serving address=127.0.0.1:1 engine="onnxruntime cpu, 2 threads" engine_reason="auto: no GPU engine installed" checkpoint=x';
  assert.equal(engineLine(line), "policy engine: onnxruntime cpu, 2 threads (auto: no GPU engine installed)");
  assert.equal(engineLine("policy: serving address=127.0.0.1:1 engine=tfjs checkpoint=x"), "policy engine: tfjs");
  assert.match(engineLine("policy: serving address=127.0.0.1:1"), /^policy engine: not on its start line/);
  const gpu =
    'policy: serving engine="onnxruntime webgpu on X" engine_reason="auto: onnxruntime on webgpu" placement="forward: all 118 nodes on webgpu" checkpoint=x';
  assert.equal(engineLine(gpu), "policy engine: onnxruntime webgpu on X (auto: onnxruntime on webgpu); graph nodes: forward: all 118 nodes on webgpu");
});

test("the launcher's judge line: provider and placement from a judge's start line", () => {
  assert.equal(
    judgeProviderLine('judge: serving provider="webgpu on X" placement="all 140 nodes on webgpu" sessions=1'),
    "judge provider: webgpu on X (all 140 nodes on webgpu)",
  );
  assert.equal(judgeProviderLine('judge: serving model="none" provider=cpu placement=- sessions=2'), "judge provider: cpu");
  assert.match(judgeProviderLine("judge: serving address=x"), /^judge provider: not on its start line/);
});

test("start-line fields: plain and JSON-quoted values", () => {
  const fields = startLineFields('judge: serving address=127.0.0.1:5 model="a \\"b\\" c" tls=mtls');
  assert.equal(fields.get("address"), "127.0.0.1:5");
  assert.equal(fields.get("model"), 'a "b" c');
  assert.equal(fields.get("tls"), "mtls");
});
