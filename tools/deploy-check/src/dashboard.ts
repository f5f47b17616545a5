// The Grafana dashboard of deploy/grafana/grpo-mesh.json, written from this one table of panels
// (`node --import tsx deploy/scripts/make-dashboard.ts`; a test keeps the file equal to it, and a
// live test runs every query against a real Prometheus scraping a real stack).
import { writeFileSync } from "node:fs";

export interface PanelSpec {
  title: string;
  description: string;
  /** PromQL, with the legend of each series. */
  targets: Array<{ expr: string; legend: string }>;
  unit?: string;
  /** "timeseries" (default) or "stat". */
  type?: "timeseries" | "stat";
}

export const DASHBOARD_FILE = "deploy/grafana/grpo-mesh.json";

/** The training view, then the judge fleet view. */
export const ROWS: Array<{ title: string; panels: PanelSpec[] }> = [
  {
    title: "Training",
    panels: [
      {
        title: "Reward",
        description: "Mean judge reward of the last step's completions, and ± their standard deviation.",
        targets: [
          { expr: "grpo_mean_reward", legend: "mean reward" },
          { expr: "grpo_mean_reward + grpo_std_reward", legend: "+1 sd" },
          { expr: "grpo_mean_reward - grpo_std_reward", legend: "-1 sd" },
        ],
      },
      {
        title: "Held-out evaluation",
        description: "Held-out reward, masked-token accuracy and the task verifier's solve rate at the last evaluation.",
        targets: [
          { expr: "grpo_eval_mean_reward", legend: "held-out reward" },
          { expr: "grpo_eval_accuracy", legend: "accuracy" },
          { expr: "grpo_eval_solve_rate", legend: "solved" },
        ],
      },
      {
        title: "KL per token",
        description: "KL to the reference per masked token (nats), the unit warn_kl and the GrpoKlHigh alert compare.",
        targets: [{ expr: "grpo_kl_per_token", legend: "KL/token" }],
      },
      {
        title: "Loss",
        description: "The loss of the last update, its policy-gradient part and its KL penalty.",
        targets: [
          { expr: "grpo_loss", legend: "loss" },
          { expr: "grpo_pg_loss", legend: "policy gradient" },
          { expr: "grpo_kl_penalty", legend: "KL penalty" },
        ],
      },
      {
        title: "Step time by phase",
        description: "Seconds per phase of the last step (the reference's is what the step waited for it after sampling and judging).",
        targets: [{ expr: "grpo_step_phase_seconds", legend: "{{phase}}" }],
        unit: "s",
      },
      {
        title: "Steps per second",
        description: "Training steps applied per second, over 5 minutes.",
        targets: [{ expr: "rate(grpo_step[5m])", legend: "steps/s" }],
      },
      {
        title: "Role idle fraction",
        description: "Share of each step in which the orchestrator had no call in flight to the role: what pipelining (max_staleness > 0) takes back.",
        targets: [{ expr: "grpo_role_idle_fraction", legend: "{{role}}" }],
      },
      {
        title: "Staleness and importance weights",
        description: "Policy versions the last step's samples were behind, and the capped importance weights π_prox/π_behaviour that corrected them.",
        targets: [
          { expr: "grpo_staleness", legend: "staleness" },
          { expr: "grpo_importance_weight_mean", legend: "weight mean" },
          { expr: "grpo_importance_weight_max", legend: "weight max" },
          { expr: "grpo_importance_weight_capped_frac", legend: "capped share" },
        ],
      },
      {
        title: "Policy version",
        description: "Updates the policy has applied.",
        targets: [{ expr: "grpo_policy_version", legend: "policy version" }],
        type: "stat",
      },
      {
        title: "Judge version",
        description: "The judge model version that scored the last step (one series per version seen).",
        targets: [{ expr: "grpo_judge_model_info == 1", legend: "{{version}}" }],
        type: "stat",
      },
      {
        title: "Zero-variance groups",
        description: "Fraction of groups whose completions all got the same reward: no learning signal (the GrpoZeroVarianceGroups alert).",
        targets: [{ expr: "grpo_frac_zero_std_groups", legend: "zero-std groups" }],
        unit: "percentunit",
      },
    ],
  },
  {
    title: "Judge fleet",
    panels: [
      {
        title: "Throughput",
        description: "Sequences scored per second, all replicas.",
        targets: [{ expr: "sum(rate(judge_inference_count_total[1m]))", legend: "sequences/s" }],
      },
      {
        title: "Score latency",
        description: "Score request latency percentiles over 5 minutes, all replicas.",
        targets: [
          { expr: 'histogram_quantile(0.5, sum by (le) (rate(judge_request_duration_seconds_bucket{method="Score"}[5m])))', legend: "p50" },
          { expr: 'histogram_quantile(0.99, sum by (le) (rate(judge_request_duration_seconds_bucket{method="Score"}[5m])))', legend: "p99" },
        ],
        unit: "s",
      },
      {
        title: "Pending sequences",
        description: "Sequences waiting or running in each replica (the autoscaler's metric).",
        targets: [{ expr: "judge_pending_sequences", legend: "{{instance}}" }],
      },
      {
        title: "Replicas serving a model",
        description: "Judge replicas that export a served model (the GrpoNoJudgeReady alert fires at 0).",
        targets: [{ expr: "count(judge_model_info == 1)", legend: "replicas" }],
        type: "stat",
      },
      {
        title: "Failures by code",
        description: "Judge requests answered with an error per second, by gRPC status.",
        targets: [{ expr: "sum by (code) (rate(judge_request_failure_total[5m]))", legend: "{{code}}" }],
      },
      {
        title: "Model swaps",
        description: "Judge model loads per hour, by result.",
        targets: [{ expr: "sum by (result) (increase(judge_model_load_total[1h]))", legend: "{{result}}" }],
      },
    ],
  },
];

/** Every query of the dashboard. */
export function dashboardQueries(): string[] {
  return ROWS.flatMap((r) => r.panels.flatMap((p) => p.targets.map((t) => t.expr)));
}

/** The dashboard as Grafana's JSON model (importable: Dashboards → New → Import, pick the Prometheus data source). */
export function dashboardJson(): Record<string, unknown> {
  const panels: Array<Record<string, unknown>> = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({ id: id++, type: "row", title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
    row.panels.forEach((p, i) => {
      const stat = p.type === "stat";
      panels.push({
        id: id++,
        type: p.type ?? "timeseries",
        title: p.title,
        description: p.description,
        datasource: { type: "prometheus", uid: "${datasource}" },
        gridPos: { h: 8, w: 8, x: (i % 3) * 8, y: y + Math.floor(i / 3) * 8 },
        fieldConfig: { defaults: { ...(p.unit ? { unit: p.unit } : {}), ...(stat ? {} : { custom: { lineWidth: 1 } }) }, overrides: [] },
        options: stat
          ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, textMode: "value_and_name" }
          : { legend: { displayMode: "list", placement: "bottom" } },
        targets: p.targets.map((t, k) => ({
          refId: String.fromCharCode(65 + k),
          expr: t.expr,
          legendFormat: t.legend,
          datasource: { type: "prometheus", uid: "${datasource}" },
        })),
      });
    });
    y += Math.ceil(row.panels.length / 3) * 8;
  }
  return {
    __inputs: [{ name: "DS_PROMETHEUS", label: "Prometheus", type: "datasource", pluginId: "prometheus", pluginName: "Prometheus" }],
    title: "GRPO Mesh",
    uid: "grpomesh",
    description: "A GRPO Mesh run (training) and its judge fleet; the metrics are documented in services/orchestrator/README.md and services/judge/README.md.",
    tags: ["grpomesh"],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: "now-1h", to: "now" },
    refresh: "30s",
    templating: { list: [{ name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus", current: {}, hide: 0 }] },
    panels,
  };
}

export function dashboardText(): string {
  return JSON.stringify(dashboardJson(), null, 2) + "\n";
}

export function writeDashboard(path: string): void {
  writeFileSync(path, dashboardText());
}
