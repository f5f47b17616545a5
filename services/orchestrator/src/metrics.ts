// The run on /metrics: every step's numbers as gauges (what the JSONL record holds), plus the
// policy and judge versions, and each named judge's mean score and version.
import { Gauge, createMetrics, type ServiceMetrics } from "@grpomesh/metrics";
import type { EvalRecord, StepRecord } from "@grpomesh/loop";

/** The step record's fields exported as gauges (`grpo_<field>`), with what each means. */
const STEP_FIELDS = {
  loss: "The loss the last update minimized (policy-gradient part + KL penalty).",
  pg_loss: "The policy-gradient part of the last step's loss.",
  kl_penalty: "The KL penalty part of the last step's loss (kl_beta × KL).",
  mean_reward: "Mean reward of the last step's B·k completions.",
  std_reward: "Standard deviation of the last step's rewards.",
  mean_advantage: "Mean group-relative advantage of the last step (≈ 0 by construction).",
  mean_kl: "KL to the reference as the loss reduces it (nats; per completion, summed over its masked tokens, with token_reduction=sum), last step.",
  kl_per_token: "KL to the reference per masked token (nats), last step; warn_kl and the GrpoKlHigh alert compare it.",
  mean_log_prob: "Mean log-probability of the sampled completions under the policy (reduced as mean_kl), last step.",
  frac_zero_std_groups: "Fraction of the last step's groups whose completions all got the same reward (no learning signal).",
  grad_norm: "Global gradient norm of the last update, before clipping.",
  learning_rate: "AdamW learning rate of the last step.",
  clip_frac: "Fraction of tokens whose PPO ratio was clipped in the last step (0 with one PPO epoch).",
  tokens_per_s: "Completion tokens (B·k·T) processed per second of the last step's wall time.",
  staleness: "Policy versions between the weights that sampled the last step and the weights it updated (0: synchronous; at most max_staleness).",
  importance_weight_mean: "Mean capped importance weight π_prox/π_behaviour of the last step's completions (1 when synchronous).",
  importance_weight_min: "Smallest importance weight of the last step's completions.",
  importance_weight_max: "Largest importance weight of the last step's completions (after the cap).",
  importance_weight_capped_frac: "Share of the last step's completions whose importance weight was cut to importance_weight_cap.",
} as const;

export class RunMetrics {
  readonly service: ServiceMetrics;
  private readonly fields = new Map<string, Gauge>();
  private readonly step: Gauge;
  private readonly policyVersion: Gauge;
  private readonly judgeInfo: Gauge;
  private readonly phase: Gauge;
  private readonly idle: Gauge;
  private readonly evalReward: Gauge;
  private readonly evalAccuracy: Gauge;
  private readonly evalSolved: Gauge;
  private judgeVersion = "";
  private readonly judgeReward: Gauge;
  private readonly judgeVersionInfo: Gauge;
  /** The version each judge's info gauge shows, by judge name. */
  private readonly judgeVersions = new Map<string, string>();

  constructor() {
    this.service = createMetrics("orchestrator");
    const registers = [this.service.registry];
    for (const [f, help] of Object.entries(STEP_FIELDS)) {
      // Prometheus spells units out: the record's tokens_per_s is grpo_tokens_per_second
      this.fields.set(f, new Gauge({ name: `grpo_${f.replace(/_per_s$/, "_per_second")}`, help, registers }));
    }
    this.step = new Gauge({ name: "grpo_step", help: "Steps applied so far.", registers });
    this.policyVersion = new Gauge({ name: "grpo_policy_version", help: "Policy version after the last step.", registers });
    this.judgeInfo = new Gauge({
      name: "grpo_judge_model_info",
      help: "1 for the judge model version that scored the last step.",
      labelNames: ["version"],
      registers,
    });
    this.judgeReward = new Gauge({
      name: "grpo_judge_mean_reward",
      help: "Each judge's mean score (before its weight) in the last step.",
      labelNames: ["judge"],
      registers,
    });
    this.judgeVersionInfo = new Gauge({
      name: "grpo_judge_version_info",
      help: "1 for the version of each judge that scored the last step.",
      labelNames: ["judge", "version"],
      registers,
    });
    this.phase = new Gauge({ name: "grpo_step_phase_seconds", help: "Duration of each phase of the last step.", labelNames: ["phase"], registers });
    this.idle = new Gauge({
      name: "grpo_role_idle_fraction",
      help: "Share of the last step's wall time in which the orchestrator had no call in flight to the role (policy, reference, judge).",
      labelNames: ["role"],
      registers,
    });
    this.evalReward = new Gauge({ name: "grpo_eval_mean_reward", help: "Held-out mean judge reward at the last evaluation.", registers });
    this.evalAccuracy = new Gauge({ name: "grpo_eval_accuracy", help: "Held-out masked-token accuracy at the last evaluation.", registers });
    this.evalSolved = new Gauge({
      name: "grpo_eval_solve_rate",
      help: "Share of held-out inputs the task's verifier says are solved, at the last evaluation.",
      registers,
    });
  }

  recordStep(r: StepRecord): void {
    for (const [f, g] of this.fields) g.set((r as unknown as Record<string, number>)[f]!);
    this.step.set(r.step);
    this.policyVersion.set(r.policy_version);
    if (r.judge_version !== this.judgeVersion) {
      if (this.judgeVersion) this.judgeInfo.remove({ version: this.judgeVersion });
      this.judgeVersion = r.judge_version;
    }
    this.judgeInfo.set({ version: r.judge_version }, 1);
    for (const [judge, mean] of Object.entries(r.judge_rewards ?? {})) this.judgeReward.set({ judge }, mean);
    for (const [judge, version] of Object.entries(r.judge_versions ?? {})) {
      const was = this.judgeVersions.get(judge);
      if (was !== undefined && was !== version) this.judgeVersionInfo.remove({ judge, version: was });
      this.judgeVersions.set(judge, version);
      this.judgeVersionInfo.set({ judge, version }, 1);
    }
    for (const [phase, ms] of Object.entries(r.phases)) this.phase.set({ phase: phase.replace(/_ms$/, "") }, ms / 1000);
    for (const [role, fraction] of Object.entries(r.idle_fraction)) this.idle.set({ role }, fraction);
  }

  recordEval(r: EvalRecord): void {
    this.evalReward.set(r.mean_reward);
    this.evalAccuracy.set(r.accuracy);
    this.evalSolved.set(r.solve_rate);
  }
}
