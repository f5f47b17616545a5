// The policy's own Prometheus metrics, beside libs/metrics' per-RPC counters and latency
// (policy_request_success_total, policy_request_failure_total, policy_request_duration_seconds).
import { Counter, Gauge, Histogram, type Registry } from "@grpomesh/metrics";

const UPDATE_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const GRAD_NORM_BUCKETS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000];

export interface PolicyGaugeSource {
  policyVersion(): number;
  lastStep(): number;
}

export class PolicyMetrics {
  readonly version: Gauge<string>;
  readonly lastStep: Gauge<string>;
  readonly updateDuration: Histogram<string>;
  readonly gradNorm: Histogram<string>;
  readonly updates: Counter<"result">;
  readonly sampledSequences: Counter<string>;

  constructor(registry: Registry, source: PolicyGaugeSource) {
    const registers = [registry];
    this.version = new Gauge({
      name: "policy_version",
      help: "Policy version: the number of updates applied to the weights now served.",
      registers,
      collect() {
        this.set(source.policyVersion());
      },
    });
    this.lastStep = new Gauge({
      name: "policy_last_step",
      help: "The last GRPO step applied.",
      registers,
      collect() {
        this.set(source.lastStep());
      },
    });
    this.updateDuration = new Histogram({
      name: "policy_update_duration_seconds",
      help: "Compute time of applied updates (forward, backward, clipping, AdamW over every PPO epoch); replays are not counted.",
      buckets: UPDATE_BUCKETS_SECONDS,
      registers,
    });
    this.gradNorm = new Histogram({
      name: "policy_grad_norm",
      help: "Global gradient norm of applied updates, before clipping.",
      buckets: GRAD_NORM_BUCKETS,
      registers,
    });
    this.updates = new Counter({
      name: "policy_updates_total",
      help: "Update requests answered, by result (applied or replayed).",
      labelNames: ["result"],
      registers,
    });
    this.sampledSequences = new Counter({ name: "policy_sampled_sequences_total", help: "Completions returned by Sample.", registers });
  }
}
