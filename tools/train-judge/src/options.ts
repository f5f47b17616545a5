// Defaults of a judge training run, grouped like nanoGPT's train.py, and `--key=value` overrides
// checked against the defaults' types (unknown keys refused).
import { DEFAULT_MASKING } from "@grpomesh/data";
import type { MaskingSpec } from "@grpomesh/data";

export interface TrainJudgeOptions {
  // I/O
  /** Pretrained generator checkpoint folder (masked_lm); its vocab and seq_len are the judge's. */
  generator: string;
  /** Output folder: config.json, model.safetensors, model.onnx, train-judge.json. */
  out: string;
  /** Corpus file (its .meta.json beside it); empty: the project's default corpus. */
  corpus: string;
  /** `grpomesh.version` of the exported judge. */
  version: string;
  name: string;
  seed: number;
  // judge architecture (seq_len and vocabulary come from the generator; 0 = the generator's value)
  /**
   * "generator": start from the generator's weights (its first n_layer blocks; the score head is
   * new), so the judge starts out knowing the text; "scratch": a fresh model with local attention.
   */
  init: string;
  n_layer: number;
  n_head: number;
  d_model: number;
  d_ff: number;
  dropout: number;
  /** localAttentionInit margin for init=scratch (0 = plain GPT-2 init). */
  local_init: number;
  // negatives
  /** Share of negatives filled with uniformly random characters instead of the generator. */
  random_share: number;
  /** Generator sampling temperature and nucleus mass for negatives. */
  temperature: number;
  top_p: number;
  masking: MaskingSpec;
  // optimisation
  /**
   * Weight of the pairwise term: BCE on s(real) − s(its own fill) as a logit. The two share every
   * unmasked character, so this isolates the filled-in positions from the context noise.
   */
  pair_loss_weight: number;
  /** Windows per step; each gives one positive and one negative sequence. */
  batch_size: number;
  micro_batches: number;
  steps: number;
  learning_rate: number;
  warmup_steps: number;
  min_lr_ratio: number;
  weight_decay: number;
  grad_clip: number;
  // evaluation and logging
  /** Held-out windows (each a positive and a generator negative) for accuracy and AUC. */
  eval_windows: number;
  eval_every: number;
  log_every: number;
  /** onnxruntime threads for the generator (tfjs-wasm trains on one core regardless). */
  ort_threads: number;
}

export const DEFAULT_OPTIONS: TrainJudgeOptions = {
  generator: "models/generator",
  out: "models/judge",
  corpus: "",
  version: "judge-v1",
  name: "grpomesh judge",
  seed: 1234,

  init: "generator",
  n_layer: 0,
  n_head: 0,
  d_model: 0,
  d_ff: 0,
  dropout: 0.0,
  local_init: 6,

  random_share: 0.25,
  temperature: 1.0,
  top_p: 1.0,
  masking: DEFAULT_MASKING,

  pair_loss_weight: 1.0,
  batch_size: 16,
  micro_batches: 1,
  steps: 180,
  learning_rate: 1e-3,
  warmup_steps: 10,
  min_lr_ratio: 0.1,
  weight_decay: 0.01,
  grad_clip: 1.0,

  eval_windows: 256,
  eval_every: 60,
  log_every: 10,
  ort_threads: 1,
};

/**
 * Applies `--key=value` arguments to the defaults. Numbers must parse as numbers, strings stay
 * strings, objects (masking) are JSON. Unknown keys and mistyped values are refused.
 */
export function parseOptions(argv: string[], defaults: TrainJudgeOptions = DEFAULT_OPTIONS): TrainJudgeOptions {
  const options = structuredClone(defaults) as unknown as Record<string, unknown>;
  for (const arg of argv) {
    const m = /^--([a-z_]+)=([\s\S]*)$/.exec(arg);
    if (!m) throw new Error(`argument ${JSON.stringify(arg)} is not --key=value; keys: ${Object.keys(defaults).join(", ")}`);
    const [, key, raw] = m as unknown as [string, string, string];
    if (!(key in defaults)) throw new Error(`unknown option --${key}; expected one of ${Object.keys(defaults).join(", ")}`);
    const current = (defaults as unknown as Record<string, unknown>)[key];
    if (typeof current === "number") {
      const value = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(value)) throw new Error(`--${key}=${raw} is not a number; the default is ${current}`);
      options[key] = value;
    } else if (typeof current === "string") {
      options[key] = raw;
    } else {
      try {
        options[key] = JSON.parse(raw);
      } catch (err) {
        throw new Error(`--${key} must be JSON like ${JSON.stringify(current)}; ${(err as Error).message}`);
      }
    }
  }
  return checkOptions(options as unknown as TrainJudgeOptions);
}

/** Refuses values that would fail later, with the field and what is expected. */
export function checkOptions(o: TrainJudgeOptions): TrainJudgeOptions {
  const positiveInts = ["batch_size", "micro_batches", "steps", "eval_windows", "eval_every", "log_every", "ort_threads"] as const;
  for (const key of positiveInts) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`${key} is ${o[key]}; expected a positive integer`);
  }
  for (const key of ["n_layer", "n_head", "d_model", "d_ff"] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0) throw new Error(`${key} is ${o[key]}; expected a positive integer, or 0 for the generator's value`);
  }
  if (o.init !== "generator" && o.init !== "scratch") throw new Error(`init is ${JSON.stringify(o.init)}; expected "generator" or "scratch"`);
  if (!(o.pair_loss_weight >= 0)) throw new Error(`pair_loss_weight is ${o.pair_loss_weight}; expected a number >= 0`);
  if (!(o.local_init >= 0)) throw new Error(`local_init is ${o.local_init}; expected a number >= 0`);
  if (o.batch_size % o.micro_batches !== 0) throw new Error(`batch_size ${o.batch_size} is not divisible by micro_batches ${o.micro_batches}`);
  if (!(o.random_share >= 0 && o.random_share <= 1)) throw new Error(`random_share is ${o.random_share}; expected a number in [0, 1]`);
  if (!(o.temperature > 0)) throw new Error(`temperature is ${o.temperature}; expected a number > 0`);
  if (!(o.top_p > 0 && o.top_p <= 1)) throw new Error(`top_p is ${o.top_p}; expected a number in (0, 1]`);
  if (!(o.learning_rate > 0)) throw new Error(`learning_rate is ${o.learning_rate}; expected a number > 0`);
  if (!Number.isInteger(o.warmup_steps) || o.warmup_steps < 0) throw new Error(`warmup_steps is ${o.warmup_steps}; expected a non-negative integer`);
  if (!(o.min_lr_ratio >= 0 && o.min_lr_ratio <= 1)) throw new Error(`min_lr_ratio is ${o.min_lr_ratio}; expected a number in [0, 1]`);
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`dropout is ${o.dropout}; expected a number in [0, 1)`);
  if (!o.generator) throw new Error("generator is empty; expected a masked_lm checkpoint folder");
  if (!o.out) throw new Error("out is empty; expected an output folder");
  return o;
}
