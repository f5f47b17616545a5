// train-judge's settings (`npm run train-judge -- --key=value`, or --config=file.json), grouped like
// nanoGPT's train.py. A light module: the docs generator imports it.
import { setting, z, type Values } from "@grpomesh/config";
import { MASKING } from "@grpomesh/pretrain/settings";

const int = (min: number) => z.int().min(min);
const arch = (what: string) => setting(int(0), 0, `${what}; 0: the generator's`);

export const TRAIN_JUDGE_ENV_PREFIX = "TRAIN_JUDGE_";

export const TRAIN_JUDGE_SETTINGS = {
  // --- I/O ---
  generator: setting(z.string().min(1), "models/generator", "pretrained generator checkpoint folder (masked_lm); its vocabulary and seq_len are the judge's"),
  out: setting(z.string().min(1), "models/judge", "output folder: config.json, model.safetensors, model.onnx, train-judge.json"),
  corpus: setting(z.string(), "", "corpus file (its .meta.json beside it); empty: data/corpus/kjv.txt"),
  version: setting(z.string(), "judge-v1", "grpomesh.version of the exported judge"),
  name: setting(z.string(), "grpomesh judge", "model name of the exported judge"),
  seed: setting(z.int(), 1234, "seed of the initial weights, the data order, the masks and the negatives"),
  // --- judge architecture (seq_len and vocabulary are the generator's) ---
  init: setting(
    z.enum(["generator", "scratch"]),
    "generator",
    "generator: start from the generator's first n_layer blocks (the score head is new), so the judge starts out knowing the text; scratch: a fresh model",
  ),
  n_layer: arch("transformer blocks"),
  n_head: arch("attention heads"),
  d_model: arch("embedding width"),
  d_ff: arch("feed-forward width"),
  dropout: setting(z.number().min(0).lt(1), 0, "dropout probability while training"),
  local_init: setting(z.number().min(0), 6, "logit margin of localAttentionInit for init=scratch; 0: plain GPT-2 init"),
  // --- negatives ---
  random_share: setting(z.number().min(0).max(1), 0.25, "share of negatives filled with uniformly random characters instead of the generator"),
  temperature: setting(z.number().gt(0), 1, "the generator's sampling temperature for negatives"),
  top_p: setting(z.number().gt(0).max(1), 1, "the generator's nucleus mass for negatives"),
  masking: MASKING,
  // --- optimisation ---
  pair_loss_weight: setting(
    z.number().min(0),
    1,
    "weight of the pairwise term, BCE on s(real) − s(its own fill): the two share every unmasked character, so it isolates the filled-in positions",
  ),
  batch_size: setting(int(1), 16, "windows per step; each gives one positive and one negative sequence"),
  micro_batches: setting(int(1), 1, "the step's windows in this many parts, gradients accumulated (must divide batch_size)"),
  steps: setting(int(1), 180, "optimizer steps; also the length of the cosine schedule"),
  learning_rate: setting(z.number().gt(0), 1e-3, "peak AdamW learning rate"),
  warmup_steps: setting(int(0), 10, "steps of linear learning-rate warm-up"),
  min_lr_ratio: setting(z.number().min(0).max(1), 0.1, "the schedule's final learning rate as a fraction of learning_rate"),
  weight_decay: setting(z.number().min(0), 0.01, "AdamW decoupled weight decay"),
  grad_clip: setting(z.number().min(0), 1, "clip the global gradient norm to this; 0: no clipping"),
  // --- evaluation and logging ---
  eval_windows: setting(int(1), 256, "held-out windows (each a positive and a generator negative) for accuracy and AUC"),
  eval_every: setting(int(1), 60, "steps between held-out evaluations"),
  log_every: setting(int(1), 10, "steps between progress lines"),
  ort_threads: setting(int(1), 1, "onnxruntime threads for the generator (tfjs-wasm trains the judge on one core regardless)"),
};

export type TrainJudgeConfig = Values<typeof TRAIN_JUDGE_SETTINGS>;

export const trainJudgeRelations = (c: TrainJudgeConfig): string[] =>
  c.batch_size % c.micro_batches ? [`batch_size ${c.batch_size} is not divisible by micro_batches ${c.micro_batches}`] : [];
