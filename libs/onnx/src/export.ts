// Writes the forward pass of docs/model-format.md as an ONNX graph (opset 17), weights as
// initializers. Both model types: masked_lm → `logits` [batch, T, V]; sequence_scorer → `score` [batch].
import { GraphBuilder, TensorProto_DataType, float } from "./graph.ts";
import type { ModelConfig } from "./model-config.ts";
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

/** The tensor names and shapes a config implies (docs/model-format.md, "Tensors"). */
export function expectedWeightShapes(config: ModelConfig): Map<string, number[]> {
  const { vocab_size: V, seq_len: T, d_model: D, d_ff: F, n_layer: L } = config;
  const shapes = new Map<string, number[]>([
    ["tok_emb.weight", [V, D]],
    ["pos_emb.weight", [T, D]],
  ]);
  for (let i = 0; i < L; i++) {
    const p = `blocks.${i}`;
    shapes.set(`${p}.ln1.weight`, [D]).set(`${p}.ln1.bias`, [D]);
    shapes.set(`${p}.attn.qkv.weight`, [D, 3 * D]).set(`${p}.attn.qkv.bias`, [3 * D]);
    shapes.set(`${p}.attn.out.weight`, [D, D]).set(`${p}.attn.out.bias`, [D]);
    shapes.set(`${p}.ln2.weight`, [D]).set(`${p}.ln2.bias`, [D]);
    shapes.set(`${p}.mlp.fc.weight`, [D, F]).set(`${p}.mlp.fc.bias`, [F]);
    shapes.set(`${p}.mlp.proj.weight`, [F, D]).set(`${p}.mlp.proj.bias`, [D]);
  }
  shapes.set("ln_f.weight", [D]).set("ln_f.bias", [D]);
  if (config.model_type === "masked_lm") shapes.set("head.weight", [D, V]).set("head.bias", [V]);
  else shapes.set("score.weight", [D, 1]).set("score.bias", [1]);
  return shapes;
}

function checkConfig(config: ModelConfig): void {
  if (config.model_type !== "masked_lm" && config.model_type !== "sequence_scorer") {
    throw new Error(`config model_type is ${JSON.stringify(config.model_type)}; expected "masked_lm" or "sequence_scorer"`);
  }
  for (const key of ["vocab_size", "seq_len", "n_layer", "n_head", "d_model", "d_ff"] as const) {
    const v = config[key];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`config ${key} is ${JSON.stringify(v)}; expected a positive integer`);
  }
  if (config.d_model % config.n_head !== 0) {
    throw new Error(`config d_model ${config.d_model} is not divisible by n_head ${config.n_head}; pick n_head dividing d_model`);
  }
  if ((config.activation ?? "gelu_tanh") !== "gelu_tanh") {
    throw new Error(`config activation is ${JSON.stringify(config.activation)}; the ONNX exporter supports "gelu_tanh" only`);
  }
  if (!Array.isArray(config.vocab) || config.vocab.length !== config.vocab_size) {
    throw new Error(`config vocab has ${Array.isArray(config.vocab) ? config.vocab.length : "no"} entries; expected vocab_size = ${config.vocab_size} token strings`);
  }
}

function checkWeights(config: ModelConfig, weights: Map<string, Float32Array>): Map<string, number[]> {
  const shapes = expectedWeightShapes(config);
  const missing = [...shapes.keys()].filter((k) => !weights.has(k));
  if (missing.length) {
    throw new Error(`weights lack ${missing.length} tensor(s) a ${config.model_type} with n_layer ${config.n_layer} needs: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}; check the checkpoint matches its config.json`);
  }
  const extra = [...weights.keys()].filter((k) => !shapes.has(k));
  if (extra.length) {
    throw new Error(`weights hold tensor(s) a ${config.model_type} does not use: ${extra.slice(0, 5).join(", ")}; check model_type and n_layer in config.json`);
  }
  for (const [name, dims] of shapes) {
    const n = dims.reduce((a, b) => a * b, 1);
    const got = weights.get(name)!.length;
    if (got !== n) throw new Error(`weight ${name} has ${got} values; expected shape [${dims.join(", ")}] = ${n} values`);
  }
  return shapes;
}

/**
 * Serializes the model as an ONNX ModelProto. Input `tokens` int64 [batch, seq_len]; output
 * `logits` float [batch, seq_len, vocab] (masked_lm) or `score` float [batch] (sequence_scorer).
 */
export function exportModelToOnnx(config: ModelConfig, weights: Map<string, Float32Array>, opts: ExportOptions = {}): Uint8Array {
  checkConfig(config);
  const shapes = checkWeights(config, weights);
  const { vocab_size: V, seq_len: T, d_model: D, n_head: H, n_layer: L } = config;
  const hd = D / H;
  const eps = config.ln_eps ?? 1e-5;
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
