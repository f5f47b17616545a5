// The onnxruntime engine on the WebGPU provider computes what it computes on the CPU provider:
// logits and sampling, reference log-probs, one training step's loss values and gradients, and the
// AdamW update, within float32 tolerances (docs/engine.md, "WebGPU"). Tiny models: on a machine
// without a GPU these run on Mesa's software Vulkan driver (lavapipe), ≈ 25× slower than the CPU
// provider. Without any adapter the tests skip with the reason; in CI they must run (needsWebgpu).
import { test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "@grpomesh/model";
import { needsWebgpu } from "@grpomesh/onnx-export/testing";
import { assertSameGradients, buildUpdate, maskedInputs, policyOn, referenceOn, tinyModel, updateGap } from "./test/fixtures.ts";

// the fixtures draw their random weights with tfjs; the engines under test are onnxruntime's
await initBackend("cpu", { log: false });

/** Largest |a − b| and the largest |a|. */
function gap(a: ArrayLike<number>, b: ArrayLike<number>): { worst: number; scale: number; at: number } {
  assert.equal(a.length, b.length);
  let worst = 0,
    scale = 0,
    at = -1;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]!));
    const d = Math.abs(a[i]! - b[i]!);
    if (d > worst || Number.isNaN(d)) [worst, at] = [Number.isNaN(d) ? Infinity : d, i];
  }
  return { worst, scale, at };
}

test("WebGPU: logits, sampled completions and their log-probs equal the CPU provider's", { timeout: 300_000 }, async (t) => {
  if (!needsWebgpu(t)) return;
  const cpu = await policyOn("onnx", tinyModel(11), {}, "cpu");
  const gpu = await policyOn("onnx", tinyModel(11), {}, "webgpu");
  try {
    assert.match(gpu.backend.description, /^onnxruntime webgpu on /);
    const B = 4,
      T = 16;
    const inputs = maskedInputs(B, T, 5);
    const a = await cpu.backend.logits(inputs, B, T);
    const b = await gpu.backend.logits(inputs, B, T);
    const g = gap(a, b);
    // float32 sums in another order on another device: 1e-4 absolute on logits of size ≈ 1–5
    assert.ok(g.worst <= 1e-4, `logits differ by ${g.worst} at ${g.at} (largest |logit| ${g.scale})`);
    const params = { temperature: 0.8, topP: 0.95, groupSize: 4, seed: "2026" };
    const sa = await cpu.sample(inputs, { batch: B, seqLen: T }, params);
    const sb = await gpu.sample(inputs, { batch: B, seqLen: T }, params);
    // same seed, same distributions (to 1e-4): the same tokens, unless a draw lands within 1e-4 of a
    // boundary between two tokens' probability mass — never, for these fixed inputs and seed
    assert.deepEqual([...sb.completions], [...sa.completions], "sampled completions differ");
    const lp = gap(sa.logProbs, sb.logProbs);
    assert.ok(lp.worst <= 1e-4 * Math.max(1, lp.scale), `completion log-probs differ by ${lp.worst} (largest ${lp.scale})`);
  } finally {
    await cpu.close();
    await gpu.close();
  }
});

test("WebGPU: the reference's log-probs equal the CPU provider's", { timeout: 300_000 }, async (t) => {
  if (!needsWebgpu(t)) return;
  const cpu = await referenceOn("onnx", tinyModel(12), "cpu");
  const gpu = await referenceOn("onnx", tinyModel(12), "webgpu");
  try {
    assert.match(gpu.info().placement ?? "", /^forward: /);
    const B = 3,
      T = 16;
    const inputs = maskedInputs(B, T, 6);
    const a = await cpu.logProbs(inputs, { batch: B, seqLen: T }, 0.7);
    const b = await gpu.logProbs(inputs, { batch: B, seqLen: T }, 0.7);
    const g = gap(a, b);
    assert.ok(g.worst <= 1e-4, `log-probs differ by ${g.worst} at ${g.at}`);
  } finally {
    await cpu.close();
    await gpu.close();
  }
});

for (const setting of [
  { name: "exact KL, sum", params: {} },
  { name: "k3 KL, mean, PPO epochs", params: { klEstimator: "k3" as const, tokenReduction: "mean" as const, ppoEpochs: 2 } },
]) {
  test(`WebGPU: one training step's loss, gradients and AdamW update equal the CPU provider's (${setting.name})`, { timeout: 300_000 }, async (t) => {
    if (!needsWebgpu(t)) return;
    const cpu = await policyOn("onnx", tinyModel(13), {}, "cpu");
    const gpu = await policyOn("onnx", tinyModel(13), {}, "webgpu");
    const ref = await referenceOn("onnx", tinyModel(13), "cpu");
    try {
      // on WebGPU the forward runs wholly on the GPU; the training graph keeps one node on the CPU, the
      // reshape of the int64 ids for the embedding gradient's ScatterND
      assert.match(
        gpu.backend.placement ?? "",
        /^forward: all \d+ nodes on webgpu; train: 1 of \d+ nodes fell back to the CPU provider \(Reshape\); adamw: all \d+ nodes on webgpu$/,
      );
      const payload = await buildUpdate(cpu, ref, 1, { batch: 4, groupSize: 3, params: setting.params });
      const a = await cpu.gradients(payload);
      const b = await gpu.gradients(payload);
      assertSameGradients(a, b, ["cpu", "webgpu"]);
      const before = await cpu.backend.getWeights();
      await cpu.update(payload);
      await gpu.update(payload);
      const updates = await updateGap(before, cpu, gpu);
      // ‖Δw_webgpu − Δw_cpu‖ ≤ 1e-3·‖Δw‖ (AdamW turns a ≈0 gradient of either sign into ±lr, so no max-abs bound)
      assert.ok(updates <= 1e-3, `the updates differ by ${updates} of their size`);
    } finally {
      for (const e of [cpu, gpu, ref]) await e.close();
    }
  });
}

test("WebGPU: two engines of one process computing at once take turns on the device (no crash, same numbers)", { timeout: 300_000 }, async (t) => {
  if (!needsWebgpu(t)) return;
  // Without the process's GPU lane, a policy and a reference on WebGPU in one process crashed Dawn.
  const policy = await policyOn("onnx", tinyModel(14), {}, "webgpu");
  const reference = await referenceOn("onnx", tinyModel(14), "webgpu");
  try {
    const B = 4,
      T = 16;
    const inputs = maskedInputs(B, T, 8);
    const alone = await policy.backend.logits(inputs, B, T);
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([
        policy.backend.logits(inputs, B, T),
        reference.logProbs(inputs, { batch: B, seqLen: T }, 1),
        policy.sample(inputs, { batch: B, seqLen: T }, { temperature: 1, topP: 1, groupSize: 2, seed: String(round) }),
      ]);
      assert.deepEqual(a, alone, `round ${round}: logits changed under concurrent work`);
      assert.ok(b.every(Number.isFinite), `round ${round}: reference log-probs not finite`);
    }
  } finally {
    await policy.close();
    await reference.close();
  }
});
