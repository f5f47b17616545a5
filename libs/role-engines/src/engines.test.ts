// The two engines agree: same gradients and loss values for the same Update (within float32
// tolerance), checkpoints written by one load in the other and train on the same way, and "auto"
// picks by what is installed. The onnxruntime engine computes in a worker: the event loop keeps
// running during an update.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "@grpomesh/model";
import { selectEngine, type EngineProbe } from "./backends/choose.ts";
import { ExecutionProviderError, type ProviderSelection } from "@grpomesh/onnx-export/providers";
import { assertSameGradients, buildUpdate, caught, policyOn, referenceOn, tempDir, tinyModel, updateGap } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });
const dir = tempDir("engines-");
after(() => dir.remove());

const SETTINGS = [
  { name: "exact KL, sum", params: {} },
  { name: "k3 KL, mean, micro-batches of 2", params: { klEstimator: "k3" as const, tokenReduction: "mean" as const, microBatchSize: 2 } },
  { name: "PPO epochs (clipped ratio after the first)", params: { ppoEpochs: 2 } },
];

for (const setting of SETTINGS) {
  test(`gradients and loss values: onnx equals tfjs (${setting.name})`, async () => {
    const tfjs = await policyOn("tfjs", tinyModel(7));
    const onnx = await policyOn("onnx", tinyModel(7));
    const ref = await referenceOn("tfjs", tinyModel(7));
    const payload = await buildUpdate(tfjs, ref, 1, { batch: 4, groupSize: 3, params: setting.params });
    const a = await tfjs.gradients(payload);
    const b = await onnx.gradients(payload);
    assertSameGradients(a, b, ["tfjs", "onnx"]);
    // one whole update (PPO: both epochs) lands on the same weights
    const before = await tfjs.backend.getWeights();
    await tfjs.update(payload);
    await onnx.update(payload);
    const gap2 = await updateGap(before, tfjs, onnx);
    assert.ok(gap2 < 1e-3, `the updates differ by ${gap2} of their size`);
    for (const e of [tfjs, onnx, ref]) await e.close();
  });
}

for (const [from, to] of [
  ["onnx", "tfjs"],
  ["tfjs", "onnx"],
] as const) {
  test(`a checkpoint trained with ${from} loads in ${to} and trains on the same way`, async () => {
    const ref = await referenceOn("tfjs", tinyModel(3));
    const trained = await policyOn(from, tinyModel(3));
    const updates = [];
    for (let step = 1; step <= 3; step++) updates.push(await buildUpdate(trained, ref, step));
    for (const u of updates.slice(0, 2)) await trained.update(u);
    const saved = await trained.saveCheckpoint(`${dir.path}/${from}`);
    assert.ok(saved.files.includes("optimizer.safetensors"));

    const loaded = await policyOn(to, tinyModel(99)); // other weights until the checkpoint loads
    const state = await loaded.loadCheckpoint(`${dir.path}/${from}`);
    assert.deepEqual(state, { policyVersion: 2, lastStep: 2, weightsDigest: saved.weightsDigest });
    assert.equal((await loaded.state()).weightsDigest, saved.weightsDigest);
    // a retried step is answered from the recorded result on the other engine too
    assert.equal((await loaded.update(updates[1]!)).replayed, true);
    // step 3 uses the restored AdamW moments: both engines land on the same weights
    const before = await trained.backend.getWeights();
    const a = await trained.update(updates[2]!);
    const b = await loaded.update(updates[2]!);
    assert.ok(Math.abs(a.metrics.loss - b.metrics.loss) <= 1e-4 * Math.max(1, Math.abs(a.metrics.loss)));
    const gap = await updateGap(before, trained, loaded);
    assert.ok(gap < 1e-3, `step 3 differs by ${gap} of its size`);
    for (const e of [trained, loaded, ref]) await e.close();
  });
}

test("the onnxruntime engine computes in a worker: timers fire during an update", async () => {
  const onnx = await policyOn("onnx", tinyModel(5, { seq_len: 64, d_model: 64, n_layer: 2 }));
  const ref = await referenceOn("onnx", tinyModel(5, { seq_len: 64, d_model: 64, n_layer: 2 }));
  const payload = await buildUpdate(onnx, ref, 1, { batch: 96, seqLen: 64, groupSize: 8 });
  await onnx.gradients(payload); // builds the session: not what this test times
  let ticks = 0;
  const timer = setInterval(() => ticks++, 2);
  const started = performance.now();
  await onnx.update(payload);
  const ms = performance.now() - started;
  clearInterval(timer);
  assert.ok(ms >= 20, `the update took ${ms.toFixed(1)} ms: too short to tell a blocked event loop from a free one; make the batch larger`);
  assert.ok(ticks >= Math.min(3, ms / 20), `${ticks} timer ticks during a ${ms.toFixed(0)} ms update: the event loop was blocked`);
  for (const e of [onnx, ref]) await e.close();
});

test("a closed onnxruntime engine says so instead of hanging", async () => {
  const onnx = await policyOn("onnx", tinyModel(1));
  await onnx.close();
  const err = await caught(() => onnx.state());
  assert.equal(err.grpcCode, 9);
  assert.match(err.message, /disposed/);
});

test("engine choice: auto takes a GPU provider, then tfjs-node-gpu, then onnxruntime on the CPU; an explicit choice wins; nonsense is refused", () => {
  type Gpu = "cuda" | "webgpu" | "none";
  const provider =
    (gpu: Gpu) =>
    (choice: string): ProviderSelection => {
      if (choice === "cpu" || (choice === "auto" && gpu === "none")) return { provider: "cpu", sessionProviders: ["cpu"], reason: `${choice}: no GPU` };
      if (choice !== "auto" && choice !== gpu) throw new ExecutionProviderError(`execution provider "${choice}" was requested but it cannot run here`);
      const p = gpu as "cuda" | "webgpu";
      return { provider: p, sessionProviders: [p, "cpu"], reason: `${choice}: ${p}` };
    };
  const probe = (p: { gpu?: Gpu; tfjsNodeGpu?: boolean; onnxEngine?: boolean }): EngineProbe => ({
    provider: provider(p.gpu ?? "none"),
    tfjsNodeGpu: () => p.tfjsNodeGpu ?? false,
    onnxEngine: () => p.onnxEngine ?? true,
  });
  const pick = (choice: string | undefined, p: Parameters<typeof probe>[0], ep = "auto") => {
    const s = selectEngine(choice, ep, probe(p));
    return [s.engine, s.provider?.sessionProviders.join("+") ?? "-"].join(" ");
  };
  assert.equal(pick("auto", {}), "onnx cpu");
  assert.equal(pick(undefined, { tfjsNodeGpu: true }), "tfjs -");
  assert.equal(pick("auto", { gpu: "cuda", tfjsNodeGpu: true }), "onnx cuda+cpu");
  assert.equal(pick("auto", { gpu: "webgpu", tfjsNodeGpu: true }), "onnx webgpu+cpu");
  assert.equal(pick("auto", { tfjsNodeGpu: true }, "cpu"), "onnx cpu", "execution_provider=cpu means onnxruntime on the CPU, not tfjs");
  assert.equal(pick("auto", { onnxEngine: false }), "tfjs -");
  assert.equal(pick("tfjs", { gpu: "cuda" }), "tfjs -");
  assert.equal(pick("onnx", { tfjsNodeGpu: true }), "onnx cpu");
  assert.equal(pick("onnx", { gpu: "webgpu" }, "webgpu"), "onnx webgpu+cpu");
  assert.match(selectEngine("auto", "auto", probe({})).reason, /auto: onnxruntime on the CPU is the fastest CPU engine/);
  assert.match(selectEngine("tfjs", "auto", probe({})).reason, /asked for --engine=tfjs/);
  assert.throws(
    () => selectEngine("pytorch", "auto", probe({})),
    (err: Error & { grpcCode?: number }) => err.grpcCode === 3 && /engine is "pytorch"; expected one of auto, onnx, tfjs/.test(err.message),
  );
  assert.throws(
    () => selectEngine("auto", "webgpu", probe({})),
    (err: Error & { grpcCode?: number }) => err.grpcCode === 9 && /execution provider "webgpu" was requested/.test(err.message),
  );
  assert.throws(
    () => selectEngine("tfjs", "webgpu", probe({ gpu: "webgpu" })),
    (err: Error & { grpcCode?: number }) => err.grpcCode === 3 && /execution_provider=webgpu applies to the onnx engine/.test(err.message),
  );
});
