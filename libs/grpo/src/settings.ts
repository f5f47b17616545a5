// The GRPO run's settings, one row each: type and range, default, description. The orchestrator
// reads them (docs/configuration.md); the policy checks the ones it is sent in TrainParams against
// the same rows. Adding a training setting is a row here and the code that reads it.
import { defaults, setting, z, type Values } from "@grpomesh/config";
import { ADVANTAGE_NORMS } from "./advantages.ts";
import { TOKEN_REDUCTIONS } from "./batch.ts";
import { KL_ESTIMATORS } from "./kl.ts";

const count = (min: number) => z.int().min(min);

export const GRPO_SETTINGS = {
  // --- GRPO (the seed's defaults) ---
  group_size: setting(count(2), 8, "completions sampled per masked input (k); a group needs members to compare"),
  kl_beta: setting(z.number().min(0), 0.1, "weight β of the KL penalty to the reference policy (0: no reference is asked)"),
  learning_rate: setting(z.number().gt(0), 1e-5, "peak AdamW learning rate of the cosine schedule"),
  temperature: setting(z.number().gt(0), 0.8, "sampling temperature of the policy (the loss uses the same one)"),
  top_p: setting(z.number().gt(0).max(1), 0.95, "nucleus sampling: keep the smallest set of tokens whose probability reaches top_p"),
  batch_size: setting(count(1), 16, "masked inputs per step (each gets group_size completions)"),
  advantage_norm: setting(
    z.enum(ADVANTAGE_NORMS),
    "global",
    "global: (A − mean)/std over the batch (seed); group: per-group std (DeepSeekMath); none: centred only",
  ),
  std_floor: setting(z.number().min(0), 1e-2, "smallest std an advantage is divided by, in reward units (stops judge noise from being blown up)"),
  kl_estimator: setting(z.enum(KL_ESTIMATORS), "exact", "KL to the reference: exact (full distributions), k1 or k3 (sampled-token estimators)"),
  token_reduction: setting(z.enum(TOKEN_REDUCTIONS), "sum", "a completion's log-prob: sum over its masked tokens, or their mean"),
  ppo_epochs: setting(count(1), 1, "optimizer passes over each batch; > 1 uses the PPO-clipped ratio to the sampling policy"),
  clip_eps: setting(z.number().gt(0).lt(1), 0.2, "PPO clip range ε (used when ppo_epochs > 1)"),
  drop_zero_std_groups: setting(z.boolean(), false, "give groups whose rewards are all equal zero advantage (they carry no signal)"),
  importance_weight_cap: setting(
    z.number().refine((v) => v === 0 || (Number.isFinite(v) && v >= 1), "0 (no cap) or a number ≥ 1"),
    2,
    "with max_staleness > 0: cap of the importance weight π_prox/π_behaviour of a completion sampled by an older policy version (truncated importance sampling); 0: no cap",
  ),
  advantage_clip: setting(z.number().min(0), 0, "clip each advantage to [−c, c] after normalisation (a judge outlier cannot dominate a step); 0: no clipping"),
  // --- optimizer (AdamW, cosine schedule with warm-up) ---
  max_iters: setting(count(1), 200, "training steps; also the length of the cosine schedule"),
  warmup_iters: setting(count(0), 10, "steps of linear learning-rate warm-up"),
  min_lr_ratio: setting(z.number().min(0).max(1), 0.1, "the schedule's final learning rate as a fraction of learning_rate"),
  weight_decay: setting(z.number().min(0), 0, "AdamW decoupled weight decay"),
  beta1: setting(z.number().min(0).lt(1), 0.9, "AdamW first-moment decay"),
  beta2: setting(z.number().min(0).lt(1), 0.999, "AdamW second-moment decay"),
  adam_eps: setting(z.number().gt(0), 1e-8, "AdamW denominator epsilon"),
  grad_clip: setting(z.number().min(0), 1, "clip the global gradient norm to this; 0: no clipping"),
  micro_batch_size: setting(count(0), 0, "inputs per micro-batch in the policy update (gradients accumulated); 0: the whole batch at once"),
  // --- run ---
  max_staleness: setting(
    z.int().min(0).max(8),
    0,
    "pipelining: the next steps are sampled and judged while the policy updates, at most this many policy versions behind (corrected by importance weights); 0: synchronous steps",
  ),
  seed: setting(z.int(), 1337, "seed of the data order, the masks and the sampling"),
  eval_interval: setting(count(0), 25, "steps between held-out evaluations; 0: never"),
  eval_batches: setting(count(1), 4, "held-out batches per evaluation"),
  sample_interval: setting(count(0), 25, "steps between printed sample fill-ins; 0: never"),
  samples_to_show: setting(count(0), 2, "fill-ins printed each sample_interval"),
  checkpoint_interval: setting(count(0), 50, "steps between checkpoints; 0: only at the end"),
  warn_frac_zero_std: setting(z.number().min(0).max(1), 0.5, "warn when at least this fraction of groups has all-equal rewards"),
  warn_kl: setting(z.number().min(0), 0.5, "warn when the mean KL to the reference per masked token exceeds this (nats)"),
};

export type GrpoConfig = Values<typeof GRPO_SETTINGS>;
export const GRPO_DEFAULTS: GrpoConfig = defaults(GRPO_SETTINGS);

/**
 * The Update's TrainParams (proto/grpomesh/v1/policy.proto) field by field: which GRPO setting each
 * carries. The loop fills the message from it and the policy checks each field by that setting's row.
 */
export const TRAIN_PARAM_SETTINGS = {
  learningRate: "learning_rate",
  warmupSteps: "warmup_iters",
  maxSteps: "max_iters",
  minLrRatio: "min_lr_ratio",
  weightDecay: "weight_decay",
  beta1: "beta1",
  beta2: "beta2",
  eps: "adam_eps",
  gradClip: "grad_clip",
  microBatchSize: "micro_batch_size",
  klBeta: "kl_beta",
  klEstimator: "kl_estimator",
  tokenReduction: "token_reduction",
  ppoEpochs: "ppo_epochs",
  clipEps: "clip_eps",
  temperature: "temperature",
  importanceWeightCap: "importance_weight_cap",
} as const satisfies Record<string, keyof GrpoConfig>;

/** Relations between GRPO values that a per-key type cannot see; each string is one problem. */
export function grpoRelations(c: GrpoConfig): string[] {
  return c.micro_batch_size > 0 && c.batch_size % c.micro_batch_size !== 0
    ? [`batch_size ${c.batch_size} is not a multiple of micro_batch_size ${c.micro_batch_size}`]
    : [];
}
