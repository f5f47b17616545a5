// The config.json fields of docs/model-format.md that the exporter reads.
export interface ModelConfig {
  model_type: "masked_lm" | "sequence_scorer";
  vocab_size: number;
  seq_len: number;
  n_layer: number;
  n_head: number;
  d_model: number;
  d_ff: number;
  dropout?: number;
  ln_eps?: number;
  activation?: string;
  vocab: string[];
  mask_token_id?: number;
  pad_token_id?: number;
}
