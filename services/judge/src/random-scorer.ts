// Random-weight sequence scorers exported through libs/onnx-export: real judge models (the exporter's
// graph, the contract's metadata) for tests, benchmarks and smoke runs when no trained judge exists.
import { expectedTensorShapes, validateConfig, type ModelConfig } from "@grpomesh/model";
import { exportModelToOnnx } from "@grpomesh/onnx-export";
import { Rng } from "@grpomesh/rng";

/** The size of the project's default models (4 layers, d_model 128, 4 heads, seq_len 128). */
export const DEFAULT_JUDGE_ARCH = { seq_len: 128, n_layer: 4, n_head: 4, d_model: 128, d_ff: 512 } as const;

/** "[PAD]", "[MASK]", then printable ASCII: a stand-in vocabulary of `size` distinct tokens. */
export function syntheticVocab(size: number): string[] {
  if (!Number.isInteger(size) || size < 2) throw new Error(`vocabulary size ${size} is too small; expected an integer ≥ 2 ("[PAD]" and "[MASK]" come first)`);
  const vocab = ["[PAD]", "[MASK]"];
  for (let code = 32; vocab.length < size; code++) vocab.push(code < 127 ? String.fromCharCode(code) : `[T${code}]`);
  return vocab;
}

/** A sequence_scorer config of the default judge size, validated; `vocab_size` alone picks a synthetic vocabulary. */
export function scorerConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  const vocab = overrides.vocab ?? syntheticVocab(overrides.vocab_size ?? 75);
  return validateConfig({
    model_type: "sequence_scorer",
    ...DEFAULT_JUDGE_ARCH,
    dropout: 0,
    ln_eps: 1e-5,
    activation: "gelu_tanh",
    mask_token_id: 1,
    pad_token_id: 0,
    ...overrides,
    vocab,
    vocab_size: vocab.length,
  });
}

export interface RandomScorerOptions {
  seed?: number | string;
  /** Standard deviation of the normal weights (LayerNorm gains are 1, its biases 0). */
  std?: number;
  version?: string;
  name?: string;
}

/** ONNX bytes of a scorer with seeded random weights: same seed and config, same bytes. */
export function randomScorerOnnx(config: ModelConfig, opts: RandomScorerOptions = {}): Uint8Array {
  const rng = new Rng(opts.seed ?? 0);
  const std = opts.std ?? 0.02;
  const weights = new Map<string, Float32Array>();
  for (const [name, dims] of expectedTensorShapes(config)) {
    const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (/\.ln\d\.weight$|^ln_f\.weight$/.test(name)) values.fill(1);
    else if (!/\.ln\d\.bias$|^ln_f\.bias$/.test(name)) for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    weights.set(name, values);
  }
  return exportModelToOnnx(config, weights, { version: opts.version, name: opts.name });
}
