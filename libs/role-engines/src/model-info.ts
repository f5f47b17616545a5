import type { ModelConfig } from "@grpomesh/model";

/** What every engine says about the model it holds. */
export interface ModelInfo {
  config: ModelConfig;
  /** What computes, e.g. "onnxruntime cpu, 2 threads" or "tfjs wasm". */
  backend: string;
  /** Why this engine: asked for, or what "auto" found (see backends/choose.ts). */
  engineReason?: string;
  /** On a GPU execution provider: which graph nodes onnxruntime left on the CPU. */
  placement?: string;
  parameterCount: number;
  weightsDigest: string;
}

type Field = [string, string | number];

/**
 * The model part of a service's start line: backend, checkpoint, architecture, size, then the
 * engine's own state (`state`, e.g. version), then the weights digest.
 */
export function modelStartFields(info: ModelInfo, checkpoint: string, state: Field[] = []): Field[] {
  const c = info.config;
  return [
    ["engine", info.backend],
    ...(info.engineReason ? ([["engine_reason", info.engineReason]] as Field[]) : []),
    ...(info.placement ? ([["placement", info.placement]] as Field[]) : []),
    ["checkpoint", checkpoint],
    ["layers", c.n_layer],
    ["d_model", c.d_model],
    ["heads", c.n_head],
    ["seq_len", c.seq_len],
    ["vocab", c.vocab_size],
    ["params", info.parameterCount],
    ...state,
    ["digest", info.weightsDigest.slice(0, 16)],
  ];
}

/** The proto ModelConfig and Vocabulary of a config.json, as policy and reference report them in Info. */
export function modelInfoMessage(c: ModelConfig) {
  return {
    config: {
      modelType: c.model_type,
      vocabSize: c.vocab_size,
      seqLen: c.seq_len,
      nLayer: c.n_layer,
      nHead: c.n_head,
      dModel: c.d_model,
      dFf: c.d_ff,
      dropout: c.dropout,
    },
    vocab: { tokens: c.vocab, maskTokenId: c.mask_token_id },
  };
}
