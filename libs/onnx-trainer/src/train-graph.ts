// The onnxruntime engine's graphs: the training graph for one static [B, T] (tokens + GRPO batch →
// loss, its parts, one gradient per weight) — the transformer of @grpomesh/model/forward, then
// log-softmax at τ with banned ids, then the GRPO loss of @grpomesh/grpo/loss-graph, differentiated
// by the Tape — and the AdamW graph. Inference graphs come from @grpomesh/onnx-export/export.
import { LOSS_VALUE_KEYS } from "@grpomesh/grpo/loss";
import { grpoLoss, lossDataShapes, type LossSpec } from "@grpomesh/grpo/loss-graph";
import { ADAMW_SCALARS, adamwUpdate, expectedTensorShapes, type AdamWScalar, type ModelConfig } from "@grpomesh/model/format";
import { temperedLogSoftmax, transformerForward, type EmbeddingMode } from "@grpomesh/model/forward";
import { Tape, type TapeOptions, type Value } from "@grpomesh/autodiff";
import { TOKENS_INPUT } from "@grpomesh/onnx-export/export";

/** Graph input names of the training graph besides the weights (named as in the checkpoint), TOKENS_INPUT and the entries of lossDataShapes (named as there). */
export const TRAIN_INPUTS = {
  temperature: "temperature",
  /** [V] each: the masks of bannedMasks */
  bannedKeep: "banned_keep",
  bannedAdd: "banned_add",
  sampleCount: "sample_count",
  klBeta: "kl_beta",
  clipLow: "clip_low",
  clipHigh: "clip_high",
} as const;

export const gradOutputName = (param: string) => `grad.${param}`;

export interface TrainGraphSpec extends LossSpec {
  batch: number;
  seqLen: number;
  groupSize: number;
  embedding?: EmbeddingMode;
  logSoftmax?: TapeOptions["logSoftmax"];
}

/**
 * How the graphs are written for an execution provider; the numbers are the same. onnxruntime's
 * WebGPU provider has no OneHot or LogSoftmax kernel and would run them on the CPU (copying the
 * [B, T, V] logits off the GPU and back every step), so there the embedding is a Gather and
 * log-softmax is composed of ops it has (docs/engine.md, "WebGPU").
 */
export function graphLowering(provider: string): { embedding: EmbeddingMode; logSoftmax: "fused" | "composed" } {
  return provider === "webgpu" ? { embedding: "gather", logSoftmax: "composed" } : { embedding: "onehot", logSoftmax: "fused" };
}

/**
 * Training graph: forward → log-softmax(logits/τ, banned ids) → the GRPO loss with the spec's parts →
 * one output per part the spec has (named as LOSS_VALUE_KEYS) and `grad.<name>` for every weight.
 */
export function buildTrainGraph(config: ModelConfig, spec: TrainGraphSpec): Uint8Array {
  const { batch: B, seqLen: T, groupSize: k } = spec;
  if (config.model_type !== "masked_lm") throw new Error(`the ONNX trainer runs masked_lm generators; this config is a ${config.model_type}`);
  for (const [name, n] of Object.entries({ batch: B, groupSize: k }))
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} is ${n}; expected a positive integer`);
  if (!Number.isInteger(T) || T < 1 || T > config.seq_len) throw new Error(`sequence length ${T} is outside [1, ${config.seq_len}] (the model's seq_len)`);
  const V = config.vocab_size;
  const t = new Tape({ logSoftmax: spec.logSoftmax });
  const params = new Map<string, Value>();
  for (const [name, shape] of expectedTensorShapes(config)) params.set(name, t.input(name, "float32", shape));
  const I = TRAIN_INPUTS;
  const f32 = (name: string, shape: number[] = []) => t.input(name, "float32", shape);

  const ids = t.input(TOKENS_INPUT, "int64", [B, T]);
  const logits = transformerForward<Value>(t, config, (n) => params.get(n)!, ids, { batch: B, seqLen: T, embedding: spec.embedding });
  const logp = temperedLogSoftmax<Value>(t, logits, f32(I.temperature), f32(I.bannedKeep, [V]), f32(I.bannedAdd, [V]));
  const data = lossDataShapes(spec, B, T, k, V).map(([name, shape]) => [name, t.input(name, name === "completionIds" ? "int64" : "float32", shape)]);
  const scalars = {
    groupSize: k,
    sampleCount: f32(I.sampleCount),
    klBeta: spec.klInLoss ? f32(I.klBeta) : 0,
    clipLow: spec.ppo ? f32(I.clipLow) : 0,
    clipHigh: spec.ppo ? f32(I.clipHigh) : 0,
  };
  const parts = grpoLoss<Value>(t, logp, { ...Object.fromEntries(data), ...scalars }, spec);
  const names = [...params.keys()];
  const grads = t.gradients(
    parts.loss,
    names.map((n) => params.get(n)!),
  );
  for (const key of LOSS_VALUE_KEYS) if (parts[key]) t.output(parts[key], key);
  names.forEach((n, i) => t.output(grads[i]!, gradOutputName(n)));
  return t.toModel({ graphName: "grpomesh_train" });
}

/**
 * Parameters are updated as two flat vectors, so the graph is a few ops over long arrays instead
 * of a dozen tiny ops per tensor: `decayed` (the isDecayed weights, laid out first) and `other`.
 */
export type AdamWGroup = "decayed" | "other";

export const adamwNames = (group: AdamWGroup) => ({
  param: `param.${group}`,
  m: `m.${group}`,
  v: `v.${group}`,
  grad: `grad.${group}`,
  newParam: `new_param.${group}`,
  newM: `new_m.${group}`,
  newV: `new_v.${group}`,
});

/**
 * adamwUpdate of libs/model over each group with a nonzero size: inputs `param.<g>`, `m.<g>`,
 * `v.<g>`, `grad.<g>` (flat float32 vectors) and ADAMW_SCALARS; outputs `new_param.<g>`,
 * `new_m.<g>`, `new_v.<g>`.
 */
export function buildAdamWGraph(sizes: Readonly<Record<AdamWGroup, number>>): Uint8Array {
  const t = new Tape();
  const s = Object.fromEntries(ADAMW_SCALARS.map((name) => [name, t.input(name, "float32", [])])) as Record<AdamWScalar, Value>;
  for (const group of ["decayed", "other"] as const) {
    const size = sizes[group];
    if (!Number.isInteger(size) || size < 0) throw new Error(`AdamW group ${group} has size ${size}; expected an integer ≥ 0`);
    if (size === 0) continue;
    const n = adamwNames(group);
    const [p, m, v, g] = [n.param, n.m, n.v, n.grad].map((name) => t.input(name, "float32", [size]));
    const next = adamwUpdate<Value>(t, { p: p!, m: m!, v: v!, grad: g! }, s, group === "decayed");
    t.output(next.p, n.newParam);
    t.output(next.m, n.newM);
    t.output(next.v, n.newV);
  }
  return t.toModel({ graphName: "grpomesh_adamw" });
}
