// The WebGPU lowering keeps our graphs on the GPU: onnxruntime's WebGPU provider has no OneHot or
// LogSoftmax kernel, so the CPU lowering leaves them (and the [B, T, V] log-probs around them) on
// the CPU; graphLowering("webgpu") leaves only the reshape of the int64 ids that the embedding
// gradient's ScatterND indexes by. Measured from onnxruntime's own assignment (graphPlacement).
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultGeneratorConfig } from "@grpomesh/model/format";
import { buildForwardGraph } from "@grpomesh/onnx-export/export";
import { graphPlacement } from "@grpomesh/onnx-export/placement";
import { needsWebgpu } from "@grpomesh/onnx-export/testing";
import { buildTrainGraph, graphLowering } from "./train-graph.ts";

const config = defaultGeneratorConfig(["[PAD]", "[MASK]", "a", "b", "c", "d"], { seq_len: 16, n_layer: 1, n_head: 2, d_model: 16, d_ff: 32 });
const ops = (p: { cpuNodes: Array<{ op: string }> }) => p.cpuNodes.map((n) => n.op).sort();

test("WebGPU placement: the lowering moves OneHot and LogSoftmax off the CPU", { timeout: 120_000 }, async (t) => {
  if (!needsWebgpu(t)) return;
  const providers = ["webgpu", "cpu"];
  const train = (l: ReturnType<typeof graphLowering>) =>
    buildTrainGraph(config, { kl: "k3", klInLoss: true, ppo: false, batch: 2, seqLen: 16, groupSize: 2, embedding: l.embedding, logSoftmax: l.logSoftmax });
  const before = await graphPlacement(train(graphLowering("cpu")), providers);
  const after = await graphPlacement(train(graphLowering("webgpu")), providers);
  assert.deepEqual(ops(before), ["LogSoftmax", "OneHot", "Reshape"]);
  assert.deepEqual(ops(after), ["Reshape"]);
  assert.equal(after.byProvider.cpu, 1);
  assert.equal(after.byProvider.webgpu, after.total - 1);
  const forward = await graphPlacement(buildForwardGraph(config, { batch: 2, seqLen: 16, embedding: graphLowering("webgpu").embedding }), providers);
  assert.equal(forward.byProvider.cpu ?? 0, 0, `forward nodes on the CPU: ${ops(forward).join(", ")}`);
});
