// Human-facing output of a run: the live progress line, printed samples, the closing summary.
import type { EvalRecord, SampleView, StepRecord } from "@grpomesh/loop";

/** toFixed without "-0.0000" for values that round to zero. */
function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return /^-0\.0*$/.test(s) ? s.slice(1) : s;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** Steps the progress line's smoothed reward averages over. */
export const REWARD_WINDOW = 20;

/**
 * The live progress line: step, the step's mean reward ± its sd over the B·k completions, the mean
 * reward of the last REWARD_WINDOW steps (one step's reward is noisy), KL per completion token (the
 * unit warn_kl compares), loss, gradient norm, steps/s and ETA.
 */
export class ProgressLine {
  private readonly started = performance.now();
  private firstStep: number | undefined;
  private readonly rewards: number[] = [];
  constructor(
    private readonly maxSteps: number,
    private readonly mode: "line" | "log",
    private readonly every: number,
    private readonly out: Pick<NodeJS.WritableStream, "write"> = process.stdout,
  ) {}

  step(r: StepRecord): void {
    this.firstStep ??= r.step - 1;
    const elapsed = performance.now() - this.started;
    const done = r.step - this.firstStep;
    const rate = done / (elapsed / 1000);
    const eta = ((this.maxSteps - r.step) / rate) * 1000;
    this.rewards.push(r.mean_reward);
    if (this.rewards.length > REWARD_WINDOW) this.rewards.shift();
    const smoothed = this.rewards.reduce((a, b) => a + b, 0) / this.rewards.length;
    const line =
      `step ${String(r.step).padStart(String(this.maxSteps).length)}/${this.maxSteps}` +
      ` | reward ${r.mean_reward.toFixed(3)} ±${r.std_reward.toFixed(3)} (last-${this.rewards.length} mean ${smoothed.toFixed(3)})` +
      ` | kl/tok ${fixed(r.kl_per_token, 5)} | loss ${fixed(r.loss, 4)} | gnorm ${r.grad_norm.toFixed(2)}` +
      // pipelined steps (staleness > 0) say how far behind their samples were and how much the correction weighed
      (r.staleness > 0 ? ` | stale ${r.staleness} w ${r.importance_weight_mean.toFixed(3)}` : "") +
      ` | ${rate.toFixed(2)} steps/s | ETA ${formatDuration(eta)}`;
    if (this.mode === "line") this.out.write(`\r\x1b[2K${line}`);
    else if (r.step % this.every === 0 || r.step === this.maxSteps || r.step === this.firstStep + 1) this.out.write(`${line}\n`);
  }

  /** Ends the rewritten line before other output. */
  breakLine(): void {
    if (this.mode === "line") this.out.write("\n");
  }
}

export function formatEval(r: EvalRecord): string {
  // With several judges, each one's mean score (before its weight) beside the weighted sum.
  const judges = Object.entries(r.judge_rewards ?? {});
  const each = judges.length > 1 ? ` (${judges.map(([name, mean]) => `${name} ${mean.toFixed(4)}`).join(", ")})` : "";
  return `eval @ step ${r.step}: held-out solved ${(r.solve_rate * 100).toFixed(1)}%, reward ${r.mean_reward.toFixed(4)}${each}, masked-token accuracy ${(r.accuracy * 100).toFixed(2)}% (${r.sequences} sequences, ${(r.eval_ms / 1000).toFixed(1)}s, judge ${r.judge_version})`;
}

export function formatSamples(step: number, samples: SampleView[]): string {
  const show = (s: string) => JSON.stringify(s.replace(/\n/g, "⏎"));
  return [
    `samples @ step ${step} (masked positions shown as _):`,
    ...samples.flatMap((s, i) => [
      `  [${i}] input      ${show(s.input)}`,
      `      completion ${show(s.completion)}  reward ${s.reward.toFixed(3)}`,
      `      original   ${show(s.target)}`,
    ]),
  ].join("\n");
}
