// Writes the forward pass of docs/model-format.md as an ONNX graph (opset 17), weights as
// initializers. Both model types: masked_lm → `logits` [batch, T, V]; sequence_scorer → `score` [batch].
import { GraphBuilder, TensorProto_DataType, float } from "./graph.ts";
import { checkWeightsAgainstConfig, expectedTensorShapes, validateConfig } from "@grpomesh/model";
import type { ModelConfig } from "@grpomesh/model";
import { META_MODEL_TYPE, META_NAME, META_VOCAB, META_VERSION } from "./contract.ts";

export const TOKENS_INPUT = "tokens";
export const LOGITS_OUTPUT = "logits";
export const SCORE_OUTPUT = "score";
/** The whole config.json, so a generator's ONNX file carries mask/pad ids and sizes with it. */
export const META_CONFIG = "grpomesh.config";

export interface ExportOptions {
  /** `grpomesh.version` metadata, e.g. "judge-v1". */
  version?: string;
  /** `grpomesh.name` metadata. */
  name?: string;
  /** Extra metadata_props (keys should be namespaced, e.g. "grpomesh.train_steps"). */
  metadata?: Record<string, string>;
  docString?: string;
}

/**
 * Serializes the model as an ONNX ModelProto. Input `tokens` int64 [batch, seq_len]; output
 * `logits` float [batch, seq_len, vocab] (masked_lm) or `score` float [batch] (sequence_scorer).
 */
export function exportModelToOnnx(config: ModelConfig, weights: Map<string, Float32Array>, opts: ExportOptions = {}): Uint8Array {
  validateConfig(config);
  checkWeightsAgainstConfig(config, weights, "weights to export");
  const shapes = expectedTensorShapes(config);
  const { vocab_size: V, seq_len: T, d_model: D, n_head: H, n_layer: L } = config;
  const hd = D / H;
  const eps = config.ln_eps;
  const g = new GraphBuilder();
  const F32 = TensorProto_DataType.FLOAT;
  const I64 = TensorProto_DataType.INT64;

  for (const [name, dims] of shapes) g.initializer(name, dims, weights.get(name)!);
  const ints = (prefix: string, values: number[]) => g.constant(prefix, [values.length], BigInt64Array.from(values.map(BigInt)));
  const scalar = (prefix: string, value: number) => g.constant(prefix, [], Float32Array.of(value));

  // Reshape targets use 0 ("copy this dim") so the batch stays dynamic.
  const qkvShape = ints("shape_qkv", [0, 0, 3, H, hd]);
  const mergeShape = ints("shape_merge", [0, 0, D]);
  const idx = [0, 1, 2].map((i) => g.constant(`idx_${i}`, [], BigInt64Array.of(BigInt(i))));
  const attnScale = scalar("attn_scale", 1 / Math.sqrt(hd));
  const half = scalar("half", 0.5);
  const one = scalar("one", 1);
  const geluC = scalar("gelu_c", Math.sqrt(2 / Math.PI));
  const geluK = scalar("gelu_k", 0.044715);

  const linear = (x: string, prefix: string) => g.node("Add", [g.node("MatMul", [x, `${prefix}.weight`]), `${prefix}.bias`], { name: `${prefix}.y` });
  const layerNorm = (x: string, prefix: string) =>
    g.node("LayerNormalization", [x, `${prefix}.weight`, `${prefix}.bias`], { attrs: { axis: -1, epsilon: float(eps) }, name: prefix });
  const geluTanh = (x: string) => {
    const x3 = g.node("Mul", [g.node("Mul", [x, x]), x]);
    const inner = g.node("Mul", [g.node("Add", [x, g.node("Mul", [x3, geluK])]), geluC]);
    return g.node("Mul", [g.node("Mul", [x, half]), g.node("Add", [g.node("Tanh", [inner]), one])], { name: "gelu" });
  };

  const tokens = g.input(TOKENS_INPUT, I64, ["batch", T]);
  let h = g.node("Add", [g.node("Gather", [`tok_emb.weight`, tokens], { attrs: { axis: 0 } }), "pos_emb.weight"], { name: "embed" });

  for (let i = 0; i < L; i++) {
    const p = `blocks.${i}`;
    const a = layerNorm(h, `${p}.ln1`);
    // [B, T, 3D] → [B, T, 3, H, hd] → [3, B, H, T, hd]: the q | k | v column blocks, head-major.
    const qkv = g.node("Transpose", [g.node("Reshape", [linear(a, `${p}.attn.qkv`), qkvShape])], { attrs: { perm: [2, 0, 3, 1, 4] } });
    const [q, k, v] = idx.map((j) => g.node("Gather", [qkv, j], { attrs: { axis: 0 } }));
    const kT = g.node("Transpose", [k!], { attrs: { perm: [0, 1, 3, 2] } });
    const scores = g.node("Mul", [g.node("MatMul", [q!, kT]), attnScale]);
    const probs = g.node("Softmax", [scores], { attrs: { axis: -1 } });
    const ctx = g.node("Transpose", [g.node("MatMul", [probs, v!])], { attrs: { perm: [0, 2, 1, 3] } });
    h = g.node("Add", [h, linear(g.node("Reshape", [ctx, mergeShape]), `${p}.attn.out`)], { name: `${p}.resid1` });
    const m = layerNorm(h, `${p}.ln2`);
    h = g.node("Add", [h, linear(geluTanh(linear(m, `${p}.mlp.fc`)), `${p}.mlp.proj`)], { name: `${p}.resid2` });
  }
  h = layerNorm(h, "ln_f");

  if (config.model_type === "masked_lm") {
    g.output(linear(h, "head"), LOGITS_OUTPUT, F32, ["batch", T, V]);
  } else {
    const pooled = g.node("ReduceMean", [h], { attrs: { axes: [1], keepdims: 0 } });
    const score = g.node("Squeeze", [linear(pooled, "score"), ints("axes_1", [1])]);
    g.output(score, SCORE_OUTPUT, F32, ["batch"]);
  }

  const metadata: Record<string, string> = {
    [META_MODEL_TYPE]: config.model_type,
    [META_VOCAB]: JSON.stringify(config.vocab),
    [META_CONFIG]: JSON.stringify(config),
    ...(opts.version !== undefined ? { [META_VERSION]: opts.version } : {}),
    ...(opts.name !== undefined ? { [META_NAME]: opts.name } : {}),
    ...opts.metadata,
  };
  return g.toModel({ metadata, docString: opts.docString ?? `grpomesh ${config.model_type}`, graphName: `grpomesh_${config.model_type}` });
}
