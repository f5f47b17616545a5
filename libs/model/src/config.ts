// The model config, exactly the config.json of docs/model-format.md (snake_case keys as in the
// file), its validation, and the size/FLOP arithmetic benchmarks and the pretrain tool report.

export type ModelType = "masked_lm" | "sequence_scorer";

export interface ModelConfig {
  model_type: ModelType;
  vocab_size: number;
  seq_len: number;
  n_layer: number;
  n_head: number;
  d_model: number;
  d_ff: number;
  dropout: number;
  ln_eps: number;
  activation: "gelu_tanh";
  /** Token strings in id order. */
  vocab: string[];
  mask_token_id: number;
  pad_token_id: number;
}

const KEYS: ReadonlyArray<keyof ModelConfig> = [
  "model_type",
  "vocab_size",
  "seq_len",
  "n_layer",
  "n_head",
  "d_model",
  "d_ff",
  "dropout",
  "ln_eps",
  "activation",
  "vocab",
  "mask_token_id",
  "pad_token_id",
];

/** Architecture of the bundled generator (see tools/pretrain/README.md for how it was chosen). */
export const DEFAULT_GENERATOR_ARCH = {
  seq_len: 128,
  n_layer: 4,
  n_head: 4,
  d_model: 128,
  d_ff: 512,
  dropout: 0.0,
  ln_eps: 1e-5,
} as const;

/**
 * The default generator config for a vocabulary (from the dataset metadata). `[MASK]` and `[PAD]`
 * must be in it; their positions become `mask_token_id` / `pad_token_id`.
 */
export function defaultGeneratorConfig(vocab: readonly string[], overrides: Partial<ModelConfig> = {}): ModelConfig {
  const maskId = vocab.indexOf("[MASK]");
  const padId = vocab.indexOf("[PAD]");
  if (maskId < 0 || padId < 0) {
    throw new Error(
      `defaultGeneratorConfig: the vocabulary has no ${maskId < 0 ? '"[MASK]"' : '"[PAD]"'} token; ` +
        `expected both "[PAD]" and "[MASK]" among its ${vocab.length} tokens. Pass the vocabulary from the dataset metadata.`,
    );
  }
  return validateConfig({
    model_type: "masked_lm",
    vocab_size: vocab.length,
    ...DEFAULT_GENERATOR_ARCH,
    activation: "gelu_tanh",
    vocab: [...vocab],
    mask_token_id: maskId,
    pad_token_id: padId,
    ...overrides,
  });
}

function positiveInt(raw: Record<string, unknown>, key: string, errors: string[]): void {
  const v = raw[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) errors.push(`${key} must be a positive integer; got ${JSON.stringify(v)}`);
}

/**
 * Checks a parsed config.json and returns it typed. Throws one error listing every problem, so a
 * hand-written config is fixed in one go. Unknown keys are refused (a typo must not pass silently).
 */
export function validateConfig(raw: unknown): ModelConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error(`model config must be a JSON object like docs/model-format.md's config.json; got ${raw === null ? "null" : typeof raw}`);
  }
  const r = raw as Record<string, unknown>;
  const errors: string[] = [];
  for (const key of Object.keys(r)) {
    if (!(KEYS as readonly string[]).includes(key)) errors.push(`unknown key "${key}" (allowed: ${KEYS.join(", ")})`);
  }
  for (const key of KEYS) if (!(key in r)) errors.push(`missing key "${key}"`);
  if (r.model_type !== "masked_lm" && r.model_type !== "sequence_scorer") {
    errors.push(`model_type must be "masked_lm" or "sequence_scorer"; got ${JSON.stringify(r.model_type)}`);
  }
  for (const key of ["vocab_size", "seq_len", "n_layer", "n_head", "d_model", "d_ff"]) positiveInt(r, key, errors);
  if (typeof r.d_model === "number" && typeof r.n_head === "number" && r.n_head > 0 && r.d_model % r.n_head !== 0) {
    errors.push(`d_model (${r.d_model}) must be divisible by n_head (${r.n_head})`);
  }
  if (typeof r.dropout !== "number" || !(r.dropout >= 0 && r.dropout < 1)) errors.push(`dropout must be a number in [0, 1); got ${JSON.stringify(r.dropout)}`);
  if (typeof r.ln_eps !== "number" || !(r.ln_eps > 0)) errors.push(`ln_eps must be a positive number; got ${JSON.stringify(r.ln_eps)}`);
  if (r.activation !== "gelu_tanh") errors.push(`activation must be "gelu_tanh" (the only one engines implement); got ${JSON.stringify(r.activation)}`);
  if (!Array.isArray(r.vocab) || r.vocab.some((t) => typeof t !== "string")) {
    errors.push(`vocab must be an array of token strings in id order`);
  } else {
    if (r.vocab.length !== r.vocab_size)
      errors.push(`vocab has ${r.vocab.length} tokens but vocab_size is ${JSON.stringify(r.vocab_size)}; they must be equal`);
    const seen = new Set<string>();
    for (const t of r.vocab as string[]) {
      if (seen.has(t)) errors.push(`vocab lists token ${JSON.stringify(t)} twice; tokens must be distinct`);
      seen.add(t);
    }
  }
  for (const key of ["mask_token_id", "pad_token_id"]) {
    const v = r[key];
    const size = typeof r.vocab_size === "number" ? r.vocab_size : 0;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= size) {
      errors.push(`${key} must be an integer in [0, vocab_size=${JSON.stringify(r.vocab_size)}); got ${JSON.stringify(v)}`);
    }
  }
  if (r.mask_token_id === r.pad_token_id && typeof r.mask_token_id === "number")
    errors.push(`mask_token_id and pad_token_id must differ; both are ${r.mask_token_id}`);
  if (errors.length) throw new Error(`invalid model config:\n  - ${errors.join("\n  - ")}`);
  return raw as ModelConfig;
}

/** Every tensor a checkpoint of this config holds, name → shape (docs/model-format.md). */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  const { vocab_size: V, seq_len: T, d_model: D, d_ff: F, n_layer: L } = config;
  const shapes = new Map<string, number[]>();
  shapes.set("tok_emb.weight", [V, D]);
  shapes.set("pos_emb.weight", [T, D]);
  for (let i = 0; i < L; i++) {
    const p = `blocks.${i}.`;
    shapes.set(p + "ln1.weight", [D]);
    shapes.set(p + "ln1.bias", [D]);
    shapes.set(p + "attn.qkv.weight", [D, 3 * D]);
    shapes.set(p + "attn.qkv.bias", [3 * D]);
    shapes.set(p + "attn.out.weight", [D, D]);
    shapes.set(p + "attn.out.bias", [D]);
    shapes.set(p + "ln2.weight", [D]);
    shapes.set(p + "ln2.bias", [D]);
    shapes.set(p + "mlp.fc.weight", [D, F]);
    shapes.set(p + "mlp.fc.bias", [F]);
    shapes.set(p + "mlp.proj.weight", [F, D]);
    shapes.set(p + "mlp.proj.bias", [D]);
  }
  shapes.set("ln_f.weight", [D]);
  shapes.set("ln_f.bias", [D]);
  if (config.model_type === "masked_lm") {
    shapes.set("head.weight", [D, V]);
    shapes.set("head.bias", [V]);
  } else {
    shapes.set("score.weight", [D, 1]);
    shapes.set("score.bias", [1]);
  }
  return shapes;
}

/** Total number of parameters (embeddings included). */
export function parameterCount(config: ModelConfig): number {
  let n = 0;
  for (const shape of expectedTensorShapes(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * FLOPs per token, counting a multiply-add as 2 (the PaLM/nanoGPT convention): every linear
 * layer's matmul plus the two attention matmuls (QKᵀ and PV over `seqLen` keys). Embedding lookups,
 * LayerNorm, softmax and GELU are left out. Training = forward + backward ≈ 3 × forward.
 */
export function flopsPerToken(config: ModelConfig, seqLen = config.seq_len): { forward: number; train: number } {
  const { d_model: D, d_ff: F, n_layer: L, vocab_size: V } = config;
  const linear = L * (D * 3 * D + D * D + 2 * D * F) + (config.model_type === "masked_lm" ? D * V : 0);
  const attention = L * 2 * seqLen * D; // QKᵀ and PV: seqLen·D multiply-adds each
  const forward = 2 * (linear + attention);
  return { forward, train: 3 * forward };
}
