// The forward pass of @grpomesh/model/forward as an ONNX graph (opset 17), built by the Tape:
// the exported generator and judge files (weights as initializers, a symbolic batch), and the
// onnxruntime engine's inference graphs (a fixed batch, weights as inputs or initializers).
// Both model types: masked_lm → `logits` [batch, T, V]; sequence_scorer → `score` [batch].
import { checkWeightsAgainstConfig, expectedTensorShapes, validateConfig, type ModelConfig, type Weights } from "@grpomesh/model/format";
import { transformerForward, type EmbeddingMode } from "@grpomesh/model/forward";
import { Tape, type Value } from "@grpomesh/autodiff";
import type { ModelOptions } from "@grpomesh/autodiff/graph";
import { META_MODEL_TYPE, META_NAME, META_VOCAB, META_VERSION } from "./contract.ts";

export const TOKENS_INPUT = "tokens";
export const LOGITS_OUTPUT = "logits";
export const SCORE_OUTPUT = "score";
/** The whole config.json, so a generator's ONNX file carries mask/pad ids and sizes with it. */
export const META_CONFIG = "grpomesh.config";

export interface ForwardGraphOptions {
  /** A fixed batch size; default a symbolic "batch" dim. */
  batch?: number;
  /** Default the model's seq_len. */
  seqLen?: number;
  /** Bake these weights in as initializers (onnxruntime pre-packs them) instead of graph inputs. */
  weights?: Weights;
  embedding?: EmbeddingMode;
  model?: ModelOptions;
}

/** int64 `tokens` [B, T] (+ the weights as inputs unless baked in) → `logits` [B, T, V] or `score` [B]. */
export function buildForwardGraph(config: ModelConfig, opts: ForwardGraphOptions = {}): Uint8Array {
  const { batch, seqLen = config.seq_len } = opts;
  if (batch !== undefined && !(Number.isInteger(batch) && batch >= 1)) throw new Error(`batch is ${batch}; expected a positive integer`);
  if (!Number.isInteger(seqLen) || seqLen < 1 || seqLen > config.seq_len) {
    throw new Error(`sequence length ${seqLen} is outside [1, ${config.seq_len}] (the model's seq_len)`);
  }
  const t = new Tape();
  const params = new Map<string, Value>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    params.set(name, opts.weights ? t.namedConstant(name, opts.weights.get(name)!, shape) : t.input(name, "float32", shape));
  }
  // A symbolic batch is checked here as 1: the Tape's reshapes leave the leading axis to the run.
  const B = batch ?? 1;
  const dim = batch ?? "batch";
  const ids = t.input(TOKENS_INPUT, "int64", [B, seqLen], [dim, seqLen]);
  const out = transformerForward<Value>(t, config, (n) => params.get(n)!, ids, { batch: B, seqLen, embedding: opts.embedding });
  if (config.model_type === "masked_lm") t.output(out, LOGITS_OUTPUT, [dim, seqLen, config.vocab_size]);
  else t.output(out, SCORE_OUTPUT, [dim]);
  return t.toModel({ graphName: `grpomesh_${config.model_type}`, docString: `grpomesh ${config.model_type}`, ...opts.model });
}

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
export function exportModelToOnnx(config: ModelConfig, weights: Weights, opts: ExportOptions = {}): Uint8Array {
  validateConfig(config);
  checkWeightsAgainstConfig(config, weights, "weights to export");
  const metadata: Record<string, string> = {
    [META_MODEL_TYPE]: config.model_type,
    [META_VOCAB]: JSON.stringify(config.vocab),
    [META_CONFIG]: JSON.stringify(config),
    ...(opts.version !== undefined ? { [META_VERSION]: opts.version } : {}),
    ...(opts.name !== undefined ? { [META_NAME]: opts.name } : {}),
    ...opts.metadata,
  };
  return buildForwardGraph(config, {
    weights,
    embedding: "gather",
    model: { metadata, ...(opts.docString !== undefined ? { docString: opts.docString } : {}) },
  });
}
