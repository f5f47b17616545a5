// What a run's log.jsonl says about its steps: which step records are live (not superseded by a
// resume), whether every step 1..N is counted exactly once, and whether two runs' live steps agree.
import type { LogRecord } from "@grpomesh/loop";

export interface StepLedger {
  /** Live step records by step number (the last one, where a step is counted twice). */
  live: Map<number, LogRecord>;
  /** Live records per step number. */
  counts: Map<number, number>;
  missing: number[];
  duplicated: Array<{ step: number; count: number }>;
  /** Step records marked superseded (redone after a resume). */
  superseded: number;
  /** `resume` records. */
  resumes: LogRecord[];
}

/** Counts live step records; a run of `steps` steps must have each of 1..steps exactly once. */
export function stepLedger(records: readonly LogRecord[], steps: number): StepLedger {
  const live = new Map<number, LogRecord>();
  const counts = new Map<number, number>();
  let superseded = 0;
  const resumes: LogRecord[] = [];
  for (const r of records) {
    if (r.type === "resume") resumes.push(r);
    if (r.type !== "step" || typeof r.step !== "number") continue;
    if (r.superseded === true) {
      superseded++;
      continue;
    }
    counts.set(r.step, (counts.get(r.step) ?? 0) + 1);
    live.set(r.step, r);
  }
  const missing: number[] = [];
  for (let s = 1; s <= steps; s++) if (!counts.has(s)) missing.push(s);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([step, count]) => ({ step, count }));
  for (const step of counts.keys()) if (step < 1 || step > steps) duplicated.push({ step, count: counts.get(step)! });
  return { live, counts, missing, duplicated, superseded, resumes };
}

/** Problems with a ledger, in words (empty when every step is counted once). */
export function ledgerProblems(ledger: StepLedger): string[] {
  const problems: string[] = [];
  if (ledger.missing.length) problems.push(`steps never counted: ${ranges(ledger.missing)}`);
  for (const d of ledger.duplicated) problems.push(`step ${d.step} counted ${d.count} times (live records not marked superseded)`);
  return problems;
}

/** Fields of a step record that depend only on the computation (not on the clock or the process). */
export const DETERMINISTIC_FIELDS = [
  "mean_reward",
  "std_reward",
  "loss",
  "pg_loss",
  "kl_penalty",
  "mean_kl",
  "mean_log_prob",
  "grad_norm",
  "learning_rate",
  "mean_advantage",
  "clip_frac",
] as const;

/** The first live step whose deterministic fields differ between two runs, or undefined when all agree. */
export function firstDifference(a: StepLedger, b: StepLedger): { step: number; field: string; a: unknown; b: unknown } | undefined {
  const steps = [...new Set([...a.live.keys(), ...b.live.keys()])].sort((x, y) => x - y);
  for (const step of steps) {
    const ra = a.live.get(step);
    const rb = b.live.get(step);
    if (!ra || !rb) return { step, field: "(record)", a: ra ? "present" : "absent", b: rb ? "present" : "absent" };
    for (const field of DETERMINISTIC_FIELDS) {
      if (!Object.is(ra[field], rb[field])) return { step, field, a: ra[field], b: rb[field] };
    }
  }
  return undefined;
}

/** [1,2,3,7,9,10] → "1–3, 7, 9–10". */
export function ranges(values: readonly number[]): string {
  const sorted = [...values].sort((x, y) => x - y);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}
