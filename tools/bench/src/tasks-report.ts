// The table `npm run bench -- tasks` prints: pure functions of the measured numbers, so they are
// tested without running anything.
import { formatMarkdownTable, mean, sampleSd } from "./stats.ts";

/** One held-out evaluation: the verifier's solve rate and the masked-token (per-cell) accuracy. */
export interface HeldOut {
  solved: number;
  accuracy: number;
}

/** One GRPO run, from its summary.json. */
export interface SeedRun {
  seed: number;
  before: HeldOut;
  after: HeldOut;
  wallS: number;
  steps: number;
}

/** The skeptic's baseline: the same base, supervised pretraining for the runs' wall time, evaluated as the runs are. */
export interface Baseline {
  before: HeldOut;
  after: HeldOut;
  wallS: number;
  steps: number;
  /** How the learning rate ran, for the row's label, e.g. "lr 0.002 constant". */
  schedule: string;
}

export interface MeanSd {
  mean: number;
  sd: number;
}

export const meanSd = (xs: readonly number[]): MeanSd => ({ mean: mean(xs), sd: sampleSd(xs) });

/** The runs' mean and sample sd of every number in the table. */
export function summarizeRuns(runs: readonly SeedRun[]) {
  const of = (f: (r: SeedRun) => number) => meanSd(runs.map(f));
  return {
    solved_before: of((r) => r.before.solved),
    solved_after: of((r) => r.after.solved),
    accuracy_before: of((r) => r.before.accuracy),
    accuracy_after: of((r) => r.after.accuracy),
    wall_s: of((r) => r.wallS),
    steps: of((r) => r.steps),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
/** "71.3% ± 2.1" (sd in percentage points); no "±" when there is no sd (one sample). */
const pctSd = ({ mean, sd }: MeanSd) => (Number.isNaN(sd) ? pct(mean) : `${pct(mean)} ± ${(100 * sd).toFixed(1)}`);

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  const r = Math.round(s);
  return r >= 60 ? `${Math.floor(r / 60)}m${String(r % 60).padStart(2, "0")}s` : `${r}s`;
}

/**
 * Markdown: one row per seed (held-out solved before → after, per-cell accuracy before → after,
 * wall time, steps), the mean ± sample sd over the seeds, and a row per baseline.
 */
export function tasksTable(runs: readonly SeedRun[], baselines: readonly Baseline[] = []): string {
  const rows = runs.map((r) => [
    `GRPO, seed ${r.seed}`,
    `${pct(r.before.solved)} → ${pct(r.after.solved)}`,
    `${pct(r.before.accuracy)} → ${pct(r.after.accuracy)}`,
    formatSeconds(r.wallS),
    String(r.steps),
  ]);
  if (runs.length > 1) {
    const s = summarizeRuns(runs);
    const wall = Number.isNaN(s.wall_s.sd) ? formatSeconds(s.wall_s.mean) : `${formatSeconds(s.wall_s.mean)} ± ${formatSeconds(s.wall_s.sd)}`;
    rows.push([
      `GRPO, mean ± sd (${runs.length} seeds)`,
      `${pctSd(s.solved_before)} → ${pctSd(s.solved_after)}`,
      `${pctSd(s.accuracy_before)} → ${pctSd(s.accuracy_after)}`,
      wall,
      String(Math.round(s.steps.mean)),
    ]);
  }
  for (const baseline of baselines)
    rows.push([
      `supervised pretraining, same wall time (${baseline.schedule})`,
      `${pct(baseline.before.solved)} → ${pct(baseline.after.solved)}`,
      `${pct(baseline.before.accuracy)} → ${pct(baseline.after.accuracy)}`,
      formatSeconds(baseline.wallS),
      String(baseline.steps),
    ]);
  return formatMarkdownTable(["run", "held-out solved", "per-cell accuracy", "wall time", "steps"], rows);
}
