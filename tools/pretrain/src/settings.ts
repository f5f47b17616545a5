// pretrain's settings (`npm run pretrain -- --key=value`, or --config=file.json), grouped like
// nanoGPT's train.py. A light module: the docs generator imports it.
import { setting, z, type Values } from "@grpomesh/config";
import { checkMasking, DEFAULT_MASKING, type MaskingSpec } from "@grpomesh/data";
import { TF_BACKENDS } from "@grpomesh/model/format";
import { TASK_SETTINGS, type TaskName } from "@grpomesh/tasks/settings";

/** Which positions of a window are masked: libs/data's MaskingSpec as JSON text, checked field by field. */
export const MASKING = setting(
  z.string().superRefine((text, ctx) => {
    try {
      checkMasking(JSON.parse(text) as MaskingSpec);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `a JSON masking spec (${(err as Error).message})` });
    }
  }),
  JSON.stringify(DEFAULT_MASKING),
  'kjv: which positions of a window are masked: JSON like {"kind":"random","ratio":[0.15,0.5]} (kinds random, spans, mix: libs/data/src/masking.ts)',
);

const int = (min: number) => z.int().min(min);

export const PRETRAIN_ENV_PREFIX = "PRETRAIN_";

export const PRETRAIN_SETTINGS = {
  // --- data ---
  ...TASK_SETTINGS,
  // The defaults below are the kjv recipe; configs/pretrain-<task>.json hold the other tasks' (npm run build-models runs each).
  task: { ...TASK_SETTINGS.task, default: "kjv" as TaskName },
  masking: MASKING,
  batch_size: setting(int(1), 16, "windows per optimizer step"),
  micro_batches: setting(int(1), 1, "the step's windows in this many parts, gradients accumulated (must divide batch_size)"),
  seed: setting(z.int(), 1337, "seed of the initial weights, the data order and the masks"),
  // --- model ---
  init: setting(
    z.string(),
    "",
    "continue from this checkpoint folder (its architecture and weights; the optimizer starts fresh); empty: a new model of the shape below",
  ),
  seq_len: setting(int(2), 128, "window length in characters (kjv; a Sudoku model is as long as its grid's text)"),
  n_layer: setting(int(1), 4, "transformer blocks"),
  n_head: setting(int(1), 4, "attention heads (must divide d_model)"),
  d_model: setting(int(1), 128, "embedding width"),
  d_ff: setting(int(1), 512, "feed-forward width"),
  dropout: setting(z.number().min(0).lt(1), 0, "dropout probability while training"),
  local_init: setting(z.number().min(0), 6, "logit margin of localAttentionInit (libs/model/src/local-init.ts); 0: plain GPT-2 init"),
  // --- optimizer (AdamW) and schedule (cosine with warm-up) ---
  learning_rate: setting(z.number().gt(0), 3e-3, "peak learning rate"),
  min_lr_ratio: setting(z.number().min(0).max(1), 0.1, "the schedule's final learning rate as a fraction of learning_rate"),
  warmup_steps: setting(int(0), 30, "steps of linear learning-rate warm-up"),
  max_steps: setting(int(1), 480, "optimizer steps; also the length of the cosine schedule"),
  weight_decay: setting(z.number().min(0), 0.1, "AdamW decoupled weight decay"),
  beta1: setting(z.number().min(0).lt(1), 0.9, "AdamW first-moment decay"),
  beta2: setting(z.number().min(0).lt(1), 0.99, "AdamW second-moment decay"),
  grad_clip: setting(z.number().min(0), 1, "clip the global gradient norm to this; 0: no clipping"),
  // --- evaluation and budget ---
  eval_interval: setting(int(0), 80, "steps between held-out evaluations (one is always made before and after); 0: none between"),
  eval_batches: setting(int(1), 8, "fixed held-out batches per evaluation"),
  eval_batch_size: setting(int(1), 16, "windows per held-out batch"),
  max_minutes: setting(z.number().min(0), 0, "wall-clock budget: stop (and save) when it is spent; 0: none"),
  progress_seconds: setting(z.number().min(0), 10, "seconds between progress lines"),
  // --- output ---
  out: setting(z.string(), "", "checkpoint folder to write (config.json, model.safetensors, pretrain.json); empty: the task's bundled generator folder"),
  backend: setting(z.enum(["", ...TF_BACKENDS]), "", "tfjs backend; empty: the fastest available (GRPOMESH_TF_BACKEND overrides)"),
};

export type PretrainConfig = Values<typeof PRETRAIN_SETTINGS>;

export const pretrainRelations = (c: PretrainConfig): string[] =>
  c.batch_size % c.micro_batches ? [`batch_size ${c.batch_size} is not a multiple of micro_batches ${c.micro_batches}`] : [];
