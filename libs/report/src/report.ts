// The run report: one self-contained HTML page (inline SVG charts, no script, no network) drawn from
// a run directory's log.jsonl and summary.json — or several runs, compared on the same axes. Charts
// are Vega-Lite specifications compiled and rendered to SVG by Vega in Node (no browser, no canvas).
import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { LOG_FILE, SUMMARY_FILE, readLog, writeAtomic, type LogRecord } from "@grpomesh/loop";

/** Steps the smoothed training reward averages over (a trailing mean). */
export const SMOOTHING_WINDOW = 20;
export const REPORT_FILE = "report.html";

const PHASES = ["sample_ms", "judge_ms", "reference_ms", "advantage_ms", "update_ms", "data_ms"] as const;

export interface RunData {
  /** How the report names the run: its folder's name. */
  name: string;
  dir: string;
  steps: LogRecord[];
  evals: LogRecord[];
  /** Markers: judge version changes and resumes, by step. */
  events: Array<{ step: number; kind: "judge swap" | "resume"; label: string }>;
  samples: Array<{ step: number; input: string; completion: string; target: string; reward: number }>;
  summary: Record<string, unknown> | null;
  start: LogRecord | undefined;
}

/** Reads a run directory (log.jsonl, and summary.json when the run finished). */
export function readRun(dir: string): RunData {
  const path = join(dir, LOG_FILE);
  if (!existsSync(path)) throw new Error(`${dir} has no ${LOG_FILE}: not a run directory (npm start writes one per run, under runs/)`);
  const { records } = readLog(path);
  const steps = records.filter((r) => r.type === "step").sort((a, b) => Number(a.step) - Number(b.step));
  const evals = records.filter((r) => r.type === "eval").sort((a, b) => Number(a.step) - Number(b.step));
  const events: RunData["events"] = [];
  let version: unknown;
  for (const s of steps) {
    if (version !== undefined && s.judge_version !== version)
      events.push({ step: Number(s.step), kind: "judge swap", label: `judge → ${String(s.judge_version).slice(0, 40)}` });
    version = s.judge_version;
  }
  for (const r of records) if (r.type === "resume") events.push({ step: Number(r.step), kind: "resume", label: `resumed at ${r.step}` });
  const samples = records
    .filter((r) => r.type === "samples")
    .flatMap((r) => (r.samples as Array<{ input: string; completion: string; target: string; reward: number }>).map((s) => ({ step: Number(r.step), ...s })));
  const summaryPath = join(dir, SUMMARY_FILE);
  const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, "utf8")) as Record<string, unknown>) : null;
  return { name: basename(resolve(dir)), dir, steps, evals, events, samples, summary, start: records.find((r) => r.type === "start") };
}

/** Trailing mean of the last `window` values (fewer at the start). */
export function trailingMean(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (i >= window) sum -= values[i - window]!;
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

type Row = Record<string, unknown>;
interface Chart {
  title: string;
  /** What the reader should know about the numbers. */
  note: string;
  spec: Record<string, unknown>;
}

const WIDTH = 470;
const HEIGHT = 180;
const stepAxis = { field: "step", type: "quantitative", title: "step" } as const;

/** Rules (and labels) at judge swaps and resumes, layered over a time series. */
function markers(runs: RunData[]): Array<Record<string, unknown>> {
  const values = runs.flatMap((r) => r.events.map((e) => ({ ...e, run: r.name })));
  if (!values.length) return [];
  return [
    {
      data: { values },
      mark: { type: "rule", strokeDash: [4, 3], color: "#888" },
      encoding: { x: stepAxis, tooltip: [{ field: "label" }] },
    },
    {
      data: { values },
      mark: { type: "text", angle: 270, align: "left", baseline: "bottom", dy: -2, color: "#555", fontSize: 9, y: 4 },
      encoding: { x: stepAxis, text: { field: "label" } },
    },
  ];
}

function series(
  runs: RunData[],
  title: string,
  note: string,
  fields: Record<string, string>,
  opts: { scale?: "log"; rows?: (r: RunData) => Row[] } = {},
): Chart | null {
  const values = runs.flatMap((r) =>
    (opts.rows ? opts.rows(r) : r.steps).flatMap((s) =>
      Object.entries(fields)
        .filter(([field]) => typeof s[field] === "number" && Number.isFinite(s[field] as number) && (opts.scale !== "log" || (s[field] as number) > 0))
        .map(([field, label]) => ({ run: r.name, step: s.step, series: label, value: s[field] })),
    ),
  );
  if (!values.length) return null;
  const many = Object.keys(fields).length > 1;
  const color =
    runs.length > 1 ? { field: "run", type: "nominal", title: "run" } : many ? { field: "series", type: "nominal", title: null } : { value: "#3366cc" };
  const dash = runs.length > 1 && many ? { strokeDash: { field: "series", type: "nominal", title: null } } : {};
  return {
    title,
    note,
    spec: {
      layer: [
        {
          data: { values },
          mark: { type: "line", point: values.length < 40, strokeWidth: 1.5 },
          encoding: {
            x: stepAxis,
            y: { field: "value", type: "quantitative", title: null, scale: opts.scale ? { type: opts.scale } : { zero: false } },
            color,
            ...dash,
          },
        },
        ...markers(runs),
      ],
    },
  };
}

/** Each step's idle fractions as flat fields (the record nests them by role). */
function idleRows(r: RunData): Row[] {
  return r.steps.flatMap((s) => {
    const idle = s.idle_fraction as Record<string, number> | undefined;
    return idle ? [{ step: s.step, idle_policy: idle.policy, idle_reference: idle.reference, idle_judge: idle.judge }] : [];
  });
}

function rewardChart(runs: RunData[]): Chart | null {
  const values = runs.flatMap((r) => {
    const means = r.steps.map((s) => Number(s.mean_reward));
    const smooth = trailingMean(means, SMOOTHING_WINDOW);
    return r.steps.map((s, i) => ({
      run: r.name,
      step: s.step,
      mean: means[i],
      low: means[i]! - Number(s.std_reward),
      high: means[i]! + Number(s.std_reward),
      smoothed: smooth[i],
    }));
  });
  if (!values.length) return null;
  const color = runs.length > 1 ? { field: "run", type: "nominal", title: "run" } : { value: "#3366cc" };
  return {
    title: "Training reward",
    note: `each step's mean reward over its B·k completions (thin), the band ± their sd, and the mean of the last ${SMOOTHING_WINDOW} steps (thick); dashed rules: judge swaps and resumes`,
    spec: {
      layer: [
        {
          data: { values },
          mark: { type: "area", opacity: 0.15 },
          encoding: { x: stepAxis, y: { field: "low", type: "quantitative", title: "reward" }, y2: { field: "high" }, color },
        },
        {
          data: { values },
          mark: { type: "line", strokeWidth: 0.8, opacity: 0.6 },
          encoding: { x: stepAxis, y: { field: "mean", type: "quantitative" }, color },
        },
        { data: { values }, mark: { type: "line", strokeWidth: 2.5 }, encoding: { x: stepAxis, y: { field: "smoothed", type: "quantitative" }, color } },
        ...markers(runs),
      ],
    },
  };
}

function phaseChart(runs: RunData[]): Chart | null {
  const values = runs.flatMap((r) =>
    r.steps.flatMap((s) => {
      const phases = (s.phases ?? {}) as Record<string, number>;
      return PHASES.filter((p) => typeof phases[p] === "number").map((p) => ({
        run: r.name,
        step: s.step,
        phase: p.replace(/_ms$/, ""),
        seconds: phases[p]! / 1000,
      }));
    }),
  );
  if (!values.length) return null;
  return {
    title: "Step time by phase",
    note: "seconds per phase of each step, stacked; reference is the time the step waited for the reference after sampling and judging (it computes beside them, so 0 means fully hidden)",
    spec: {
      data: { values },
      mark: { type: "area" },
      encoding: {
        x: stepAxis,
        y: { field: "seconds", type: "quantitative", stack: "zero", title: "s" },
        color: { field: "phase", type: "nominal", title: "phase" },
        ...(runs.length > 1 ? { row: { field: "run", type: "nominal", title: null } } : {}),
      },
    },
  };
}

/** Every chart the report draws, for these runs (charts without data are left out). */
export function charts(runs: RunData[]): Chart[] {
  const evalRows = (r: RunData) => r.evals;
  return [
    rewardChart(runs),
    series(
      runs,
      "Held-out reward",
      "mean judge reward of one completion per held-out input, at each evaluation",
      { mean_reward: "held-out reward" },
      { rows: evalRows },
    ),
    series(
      runs,
      "Held-out accuracy",
      "fraction of masked tokens equal to the original (accuracy) and of inputs the task's verifier accepts whole (solved)",
      { accuracy: "accuracy", solve_rate: "solved" },
      { rows: evalRows },
    ),
    series(runs, "KL per token", "KL to the reference per masked token (nats), the unit warn_kl compares", { kl_per_token: "KL/token" }),
    series(runs, "Loss and its parts", "the loss the update minimized, its policy-gradient part and its KL penalty", {
      loss: "loss",
      pg_loss: "policy gradient",
      kl_penalty: "KL penalty",
    }),
    series(runs, "Gradient norm", "global gradient norm before clipping", { grad_norm: "grad norm" }),
    series(runs, "Learning rate", "AdamW's learning rate at each step (warm-up, then cosine decay)", { learning_rate: "learning rate" }),
    series(runs, "Zero-variance groups", "fraction of groups whose k completions all got the same reward (they carry no learning signal)", {
      frac_zero_std_groups: "zero-std groups",
    }),
    phaseChart(runs),
    series(
      runs,
      "Role idle fraction",
      "share of each step in which the orchestrator had no call in flight to the role: what pipelining (max_staleness > 0) takes back",
      { idle_policy: "policy", idle_reference: "reference", idle_judge: "judge" },
      { rows: idleRows },
    ),
    // only for pipelined runs: a synchronous run's staleness is 0 and its weights 1 at every step
    runs.some((r) => r.steps.some((s) => (s.staleness as number) > 0))
      ? series(
          runs,
          "Staleness and importance weights",
          "policy versions each step's samples were behind, and the capped importance weights π_prox/π_behaviour that corrected them",
          {
            staleness: "staleness",
            importance_weight_mean: "weight mean",
            importance_weight_min: "weight min",
            importance_weight_max: "weight max",
            importance_weight_capped_frac: "capped share",
          },
        )
      : null,
  ].filter((c): c is Chart => c !== null);
}

/** Renders one Vega-Lite specification to SVG in Node. */
export async function toSvg(spec: Record<string, unknown>): Promise<string> {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const full = { width: WIDTH, height: HEIGHT, background: "white", config: { font: "sans-serif", view: { stroke: "#ddd" } }, ...spec };
  const compiled = vl.compile(full as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const esc = (s: unknown) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const pct = (x: unknown) => (typeof x === "number" ? `${(x * 100).toFixed(1)}%` : "—");
const num = (x: unknown, d = 4) => (typeof x === "number" ? x.toFixed(d) : "—");

function runTable(runs: RunData[]): string {
  const rows = runs.map((r) => {
    const s = r.summary ?? {};
    const last = r.steps.at(-1);
    return `<tr><td>${esc(r.name)}</td><td>${r.steps.length}${last ? ` (last ${esc(last.step)})` : ""}</td><td>${num(s.heldout_reward_before)} → ${num(s.heldout_reward_after)}</td><td>${pct(s.heldout_solved_before)} → ${pct(s.heldout_solved_after)}</td><td>${pct(s.heldout_accuracy_before)} → ${pct(s.heldout_accuracy_after)}</td><td>${r.events.filter((e) => e.kind === "judge swap").length}</td><td>${r.events.filter((e) => e.kind === "resume").length}</td><td>${r.summary ? "finished" : "in progress or stopped"}</td></tr>`;
  });
  return `<table><thead><tr><th>run</th><th>steps</th><th>held-out reward</th><th>held-out solved</th><th>held-out accuracy</th><th>judge swaps</th><th>resumes</th><th>state</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function samplesTable(runs: RunData[]): string {
  const rows = runs.flatMap((r) =>
    r.samples.map(
      (s) =>
        `<tr>${runs.length > 1 ? `<td>${esc(r.name)}</td>` : ""}<td>${s.step}</td><td><code>${esc(s.input)}</code></td><td><code>${esc(s.completion)}</code></td><td><code>${esc(s.target)}</code></td><td>${num(s.reward, 3)}</td></tr>`,
    ),
  );
  if (!rows.length) return "<p>No samples were printed in this run (sample_interval 0).</p>";
  return `<table class="samples"><thead><tr>${runs.length > 1 ? "<th>run</th>" : ""}<th>step</th><th>input (masked as _)</th><th>completion</th><th>original</th><th>reward</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

const STYLE = `body{font-family:sans-serif;margin:24px;color:#222;max-width:1240px}h1{font-size:22px}h2{font-size:16px;margin:4px 0}
.grid{display:flex;flex-wrap:wrap;gap:18px}.chart{border:1px solid #eee;padding:8px}.note{color:#666;font-size:12px;max-width:${WIDTH + 60}px;margin:2px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.samples code{white-space:pre-wrap;word-break:break-all}`;

/** The report's HTML: header, runs table, every chart as inline SVG, samples. No script, no external resource. */
export async function renderReport(runs: RunData[], opts: { title?: string } = {}): Promise<string> {
  if (!runs.length) throw new Error("no runs to report on");
  const title = opts.title ?? (runs.length === 1 ? `GRPO run ${runs[0]!.name}` : `GRPO runs compared: ${runs.map((r) => r.name).join(", ")}`);
  const parts: string[] = [];
  for (const c of charts(runs)) {
    parts.push(`<div class="chart"><h2>${esc(c.title)}</h2><p class="note">${esc(c.note)}</p>${await toSvg(c.spec)}</div>`);
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head>
<body><h1>${esc(title)}</h1>
<p class="note">Written ${esc(new Date().toISOString())} from ${runs.map((r) => `<code>${esc(resolve(r.dir))}/${LOG_FILE}</code>`).join(", ")}.</p>
${runTable(runs)}
<div class="grid">${parts.join("\n")}</div>
<h2>Samples</h2>
${samplesTable(runs)}
</body></html>
`;
}

/** Writes `<runDir>/report.html` (atomically) and returns its path. */
export async function writeRunReport(runDir: string): Promise<string> {
  const path = join(runDir, REPORT_FILE);
  writeAtomic(path, await renderReport([readRun(runDir)]));
  return path;
}
