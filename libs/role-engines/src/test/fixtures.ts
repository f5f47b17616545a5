// Shared fixtures for this package's tests: a tiny generator config, masked batches, train params
// and a way to build a real Update payload (sampled completions, reference log-probs).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MaskedTransformer, defaultGeneratorConfig, expectedTensorShapes, weightsDigest, type ModelConfig } from "@grpomesh/model";
import { Rng } from "@grpomesh/rng";
import type { TrainParams, UpdatePayload } from "@grpomesh/loop";
import type { GradientResult, PolicyEngine, PolicyEngineOptions } from "../policy.ts";
import assert from "node:assert/strict";
import { createTrainingBackend } from "../backends/choose.ts";
import type { EngineName } from "../backends/types.ts";
import type { ReferenceEngine } from "../reference.ts";

export const TINY_VOCAB = ["[PAD]", "[MASK]", " ", "a", "b", "c", "d", "e", "f", "g"];
export const MASK = 1;
export const PAD = 0;

/** 2 layers, d_model 32, seq 16: many updates per second on one wasm thread. */
export function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return defaultGeneratorConfig(TINY_VOCAB, { seq_len: 16, n_layer: 2, n_head: 2, d_model: 32, d_ff: 64, ...overrides });
}

export function tinyModel(seed = 1, overrides: Partial<ModelConfig> = {}): MaskedTransformer {
  return new MaskedTransformer(tinyConfig(overrides), { seed });
}

/** B inputs of T tokens (ids 2…V−1), about a third masked, every input with at least one mask. */
export function maskedInputs(batch: number, seqLen: number, seed: number, vocabSize = TINY_VOCAB.length): Int32Array {
  const rng = new Rng(seed);
  const ids = new Int32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seqLen; t++) ids[b * seqLen + t] = rng.next() < 0.35 ? MASK : 2 + rng.nextInt(vocabSize - 2);
    ids[b * seqLen + rng.nextInt(seqLen)] = MASK;
  }
  return ids;
}

export function trainParams(overrides: Partial<TrainParams> = {}): TrainParams {
  return {
    learningRate: 1e-2,
    warmupSteps: 0,
    maxSteps: 100,
    minLrRatio: 0.1,
    weightDecay: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    gradClip: 1,
    microBatchSize: 0,
    klBeta: 0.1,
    klEstimator: "exact",
    tokenReduction: "sum",
    ppoEpochs: 1,
    clipEps: 0.2,
    temperature: 0.8,
    importanceWeightCap: 2,
    ...overrides,
  };
}

/**
 * A real Update for `step`: inputs from `seed`, completions sampled by the policy, reference
 * log-probs from `reference`, and advantages drawn at random (centred per group).
 */
export async function buildUpdate(
  policy: PolicyEngine,
  reference: ReferenceEngine,
  step: number,
  options: { batch?: number; seqLen?: number; groupSize?: number; seed?: number; params?: Partial<TrainParams> } = {},
): Promise<UpdatePayload> {
  const B = options.batch ?? 4;
  const T = options.seqLen ?? 16;
  const k = options.groupSize ?? 3;
  const seed = options.seed ?? step;
  const params = trainParams(options.params);
  const inputs = maskedInputs(B, T, seed);
  const sampled = await policy.sample(inputs, { batch: B, seqLen: T }, { temperature: params.temperature, topP: 0.95, groupSize: k, seed: String(seed) });
  const refLogProbs = await reference.logProbs(inputs, { batch: B, seqLen: T }, params.temperature);
  const rng = new Rng(seed + 1000);
  const advantages = new Float32Array(B * k);
  for (let b = 0; b < B; b++) {
    let mean = 0;
    for (let j = 0; j < k; j++) mean += advantages[b * k + j] = rng.normal();
    for (let j = 0; j < k; j++) advantages[b * k + j]! -= mean / k;
  }
  return { step, batch: B, seqLen: T, groupSize: k, inputs, completions: sampled.completions, advantages, refLogProbs, oldLogProbs: sampled.logProbs, params };
}

/** A temporary folder removed by the returned function. */
export function tempDir(prefix = "engine-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Calls `fn` and returns the error it throws (fails if it does not). */
export async function caught(fn: () => Promise<unknown>): Promise<Error & { grpcCode?: number }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { grpcCode?: number };
  }
  throw new Error("expected the call to throw, but it returned");
}

/** A policy on `engine` holding `model`'s weights (the model is disposed when the engine is onnx); `executionProvider` for onnx (default cpu). */
export async function policyOn(
  engine: EngineName,
  model: MaskedTransformer,
  options: PolicyEngineOptions = {},
  executionProvider = "cpu",
): Promise<PolicyEngine> {
  const { PolicyEngine } = await import("../policy.ts");
  if (engine === "tfjs") return new PolicyEngine(model, options);
  const { backend, selection } = await createTrainingBackend(model.config, { engine, executionProvider });
  await backend.setWeights(model.getWeights());
  model.dispose();
  return new PolicyEngine(backend, { ...options, config: model.config, selection });
}

/** A reference on `engine` holding `model`'s weights (the model is disposed when the engine is onnx). */
export async function referenceOn(engine: EngineName, model: MaskedTransformer, executionProvider = "cpu"): Promise<ReferenceEngine> {
  const { ReferenceEngine } = await import("../reference.ts");
  if (engine === "tfjs") return new ReferenceEngine(model);
  const weights = model.getWeights();
  const { backend, selection } = await createTrainingBackend(model.config, { engine, frozen: true, executionProvider });
  await backend.setWeights(weights);
  model.dispose();
  return new ReferenceEngine(backend, { config: model.config, weightsDigest: weightsDigest(weights, expectedTensorShapes(model.config)), selection });
}

/** max |a − b| over every gradient, relative to the largest |a| (plus a floor for all-zero grads). */
export function gradientGap(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { worst: number; scale: number; where: string } {
  let worst = 0,
    scale = 0,
    where = "";
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, ga] of a) {
    const gb = b.get(name)!;
    for (let i = 0; i < ga.length; i++) {
      scale = Math.max(scale, Math.abs(ga[i]!));
      const d = Math.abs(ga[i]! - gb[i]!);
      if (d > worst) [worst, where] = [d, `${name}[${i}]`];
    }
  }
  return { worst, scale, where };
}

/**
 * How far apart two policies' last updates are: ‖Δa − Δb‖ / ‖Δa‖ over all weights, where Δ is
 * the change from `before`. Max-abs weight differences are the wrong measure after AdamW: a
 * gradient that is ~0 in both engines can differ in sign by rounding, and Adam turns either sign
 * into a step of ±lr.
 */
export async function updateGap(before: Map<string, Float32Array>, a: PolicyEngine, b: PolicyEngine): Promise<number> {
  const wa = await a.backend.getWeights();
  const wb = await b.backend.getWeights();
  let diff = 0,
    norm = 0;
  for (const [name, w0] of before) {
    const x = wa.get(name)!,
      y = wb.get(name)!;
    for (let i = 0; i < w0.length; i++) {
      diff += (x[i]! - y[i]!) ** 2;
      norm += (x[i]! - w0[i]!) ** 2;
    }
  }
  return Math.sqrt(diff / norm);
}

/**
 * Two engines' gradients of the same Update agree: loss values within 1e-4 relative, every gradient
 * within 1e-4 of the largest (float32 sums in another order; a wrong or missing rule is off by
 * O(max|g|)), and the gradient norm within 1e-4 relative.
 */
export function assertSameGradients(a: GradientResult, b: GradientResult, names: [string, string]): void {
  for (const key of Object.keys(a.values) as Array<keyof typeof a.values>) {
    assert.ok(
      Math.abs(a.values[key] - b.values[key]) <= 1e-4 * Math.max(1, Math.abs(a.values[key])),
      `${key}: ${names[0]} ${a.values[key]} vs ${names[1]} ${b.values[key]}`,
    );
  }
  const gap = gradientGap(a.grads, b.grads);
  assert.ok(gap.worst <= 1e-4 * gap.scale + 1e-7, `largest difference ${gap.worst} at ${gap.where} (largest |g| ${gap.scale})`);
  assert.ok(Math.abs(a.gradNorm - b.gradNorm) <= 1e-4 * a.gradNorm, `gradient norm: ${names[0]} ${a.gradNorm} vs ${names[1]} ${b.gradNorm}`);
}
