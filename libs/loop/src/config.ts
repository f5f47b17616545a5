// The GRPO run configuration: the seed's defaults first, grouped nanoGPT-style. Keys are
// snake_case because they are what users write in config files and `--key=value` overrides.

export const GRPO_DEFAULTS = {
  // --- GRPO (the seed's defaults) ---
  group_size: 8,
  kl_beta: 0.1,
  learning_rate: 1e-5,
  temperature: 0.8,
  top_p: 0.95,
  batch_size: 16,
  advantage_norm: "global" as "global" | "group" | "none",
  std_floor: 1e-2,
  kl_estimator: "exact" as "exact" | "k1" | "k3",
  token_reduction: "sum" as "sum" | "mean",
  ppo_epochs: 1,
  clip_eps: 0.2,
  drop_zero_std_groups: false,
  // --- optimizer (AdamW, cosine schedule with warm-up) ---
  max_iters: 200,
  warmup_iters: 10,
  min_lr_ratio: 0.1,
  weight_decay: 0.0,
  beta1: 0.9,
  beta2: 0.999,
  adam_eps: 1e-8,
  grad_clip: 1.0,
  /** Inputs per micro-batch in the policy update (0 = the whole batch at once). */
  micro_batch_size: 0,
  // --- run ---
  seed: 1337,
  eval_interval: 25,
  eval_batches: 4,
  sample_interval: 25,
  samples_to_show: 2,
  checkpoint_interval: 50,
  /** Warn when at least this fraction of groups has all-equal rewards. */
  warn_frac_zero_std: 0.5,
  /** Warn when the mean KL to the reference per masked token exceeds this (nats). */
  warn_kl: 0.5,
};

export type GrpoConfig = typeof GRPO_DEFAULTS;

export const GRPO_CHOICES = {
  advantage_norm: ["global", "group", "none"],
  kl_estimator: ["exact", "k1", "k3"],
  token_reduction: ["sum", "mean"],
} as const;

/** Checks relations between values that a per-key type check cannot see. */
export function checkGrpoConfig(c: GrpoConfig): void {
  const problems: string[] = [];
  const positiveInt = (k: keyof GrpoConfig) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) problems.push(`${k} is ${v}; expected a positive integer`);
  };
  (["batch_size", "max_iters", "ppo_epochs", "eval_batches"] as const).forEach(positiveInt);
  if (!Number.isInteger(c.group_size) || c.group_size < 2)
    problems.push(`group_size is ${c.group_size}; expected an integer ≥ 2 (a group needs members to compare)`);
  if (!(c.temperature > 0)) problems.push(`temperature is ${c.temperature}; expected > 0`);
  if (!(c.top_p > 0 && c.top_p <= 1)) problems.push(`top_p is ${c.top_p}; expected in (0, 1]`);
  if (!(c.learning_rate > 0)) problems.push(`learning_rate is ${c.learning_rate}; expected > 0`);
  if (!(c.kl_beta >= 0)) problems.push(`kl_beta is ${c.kl_beta}; expected ≥ 0`);
  if (!(c.min_lr_ratio >= 0 && c.min_lr_ratio <= 1)) problems.push(`min_lr_ratio is ${c.min_lr_ratio}; expected in [0, 1]`);
  if (c.micro_batch_size < 0 || !Number.isInteger(c.micro_batch_size))
    problems.push(`micro_batch_size is ${c.micro_batch_size}; expected 0 (whole batch) or a positive integer`);
  if (c.micro_batch_size > 0 && c.batch_size % c.micro_batch_size !== 0)
    problems.push(`batch_size ${c.batch_size} is not a multiple of micro_batch_size ${c.micro_batch_size}`);
  for (const k of ["eval_interval", "sample_interval", "checkpoint_interval", "warmup_iters"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) problems.push(`${k} is ${c[k]}; expected a non-negative integer (0 = never)`);
  }
  if (problems.length) throw new Error(`invalid GRPO configuration:\n  ${problems.join("\n  ")}`);
}
