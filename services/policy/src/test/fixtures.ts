// Test fixtures: a tiny generator checkpoint on disk, masked inputs, train params, and the wire
// form of an Update (what services/orchestrator's GrpcPolicy sends).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MaskedTransformer, defaultGeneratorConfig, type ModelConfig } from "@grpomesh/model";
import { Rng } from "@grpomesh/rng";
import { encodeUpdateRequest, type TrainParams } from "@grpomesh/loop";

export const TINY_VOCAB = ["[PAD]", "[MASK]", " ", "a", "b", "c", "d", "e", "f", "g"];
export const MASK = 1;

export function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return defaultGeneratorConfig(TINY_VOCAB, { seq_len: 16, n_layer: 2, n_head: 2, d_model: 32, d_ff: 64, ...overrides });
}

export function tempDir(prefix = "policy-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Saves a randomly initialised tiny generator to `dir` (a pretrained checkpoint's layout). */
export function writeTinyCheckpoint(dir: string, seed = 1, overrides: Partial<ModelConfig> = {}): void {
  const model = new MaskedTransformer(tinyConfig(overrides), { seed });
  model.save(dir);
  model.dispose();
}

export function maskedInputs(batch: number, seqLen: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const ids = new Int32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seqLen; t++) ids[b * seqLen + t] = rng.next() < 0.35 ? MASK : 2 + rng.nextInt(TINY_VOCAB.length - 2);
    ids[b * seqLen + rng.nextInt(seqLen)] = MASK;
  }
  return ids;
}

/** Float parameters as they arrive after a trip through the proto's float32 fields. */
export function trainParams(overrides: Partial<TrainParams> = {}): TrainParams {
  const p: TrainParams = {
    learningRate: 1e-2,
    warmupSteps: 2,
    maxSteps: 50,
    minLrRatio: 0.1,
    weightDecay: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    gradClip: 1,
    microBatchSize: 2,
    klBeta: 0.1,
    klEstimator: "exact",
    tokenReduction: "sum",
    ppoEpochs: 1,
    clipEps: 0.2,
    temperature: 0.8,
    importanceWeightCap: 2,
    ...overrides,
  };
  for (const key of ["learningRate", "minLrRatio", "weightDecay", "beta1", "beta2", "eps", "gradClip", "klBeta", "clipEps", "temperature"] as const)
    p[key] = Math.fround(p[key]);
  return p;
}

/** The UpdateRequest for a payload, exactly as the orchestrator's gRPC port sends it. */
export const updateRequest = encodeUpdateRequest;
