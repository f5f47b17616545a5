// The chaos report as a table (fault → what happened → steps lost/redone → equal?) and the final
// verdict, in Markdown so it reads the same in a terminal and in a note.
import { ranges } from "./ledger.ts";
import type { ChaosReport, FaultOutcome } from "./chaos.ts";

export function formatFault(o: FaultOutcome): string {
  if (!o.injected) return `${o.target} ${o.signal} after step ${o.fault.afterStep}`;
  return `${o.target} ${o.signal} after step ${o.atStep} +${(o.delayMs / 1000).toFixed(2)} s (t=${o.atS.toFixed(1)} s)`;
}

export function formatLoss(o: FaultOutcome): string {
  if (!o.injected) return "—";
  if (o.redone.length === 0) return o.resumedFrom.length ? "none redone (in-flight step only)" : "none";
  return `redone ${ranges(o.redone)} (${o.redone.length})`;
}

const mark = (ok: boolean | null) => (ok === null ? "—" : ok ? "yes" : "NO");

export function formatTable(report: ChaosReport): string {
  const rows = report.outcomes.map((o, i) => [
    String(i + 1),
    formatFault(o),
    [...o.events, ...(o.injected && o.resumedFrom.length === 0 ? ["training went on"] : [])].join("; "),
    formatLoss(o),
    mark(o.stepsAfterEqual),
  ]);
  const header = ["#", "fault (role, signal, when)", "what happened", "steps lost/redone", "steps after it equal?"];
  const lines = [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`);
  return lines.join("\n");
}

export function formatVerdict(report: ChaosReport): string {
  const r = report.reference,
    c = report.chaos;
  const lines: string[] = [];
  lines.push(`final checkpoint: uninterrupted step ${r.checkpointStep}, chaos step ${c.checkpointStep} (of ${report.options.steps})`);
  for (const [file, equal] of Object.entries(report.filesEqual)) {
    lines.push(`  ${file.padEnd(22)} ${equal ? "equal" : "DIFFERENT"} (${short(r.files[file])} vs ${short(c.files[file])})`);
  }
  lines.push(`  weights digest         ${report.weightsDigestEqual ? "equal" : "DIFFERENT"} (${short(r.weightsDigest)} vs ${short(c.weightsDigest)})`);
  const counted = report.ledgerProblems.length === 0;
  lines.push(
    `  steps counted once     ${counted ? "yes" : "NO"} (chaos log.jsonl: ${c.ledger.live.size} step records${c.ledger.superseded ? ` + ${c.ledger.superseded} marked superseded` : ""}, ${c.ledger.resumes.length} resume record(s); ${c.supersededSteps.length} redone step record(s) in log.superseded.jsonl)`,
  );
  for (const p of report.ledgerProblems) lines.push(`    - ${p}`);
  lines.push(`  deaths handled        ${report.behaviourProblems.length ? "NO" : "yes (each as its role's should be)"}`);
  for (const p of report.behaviourProblems) lines.push(`    - ${p}`);
  const d = report.trajectoryDifference;
  lines.push(
    `  live steps equal       ${d ? `NO (first at step ${d.step}: ${d.field} ${String(d.a)} vs ${String(d.b)})` : "yes (every step's loss, reward, KL, grad norm… bit for bit)"}`,
  );
  for (const u of report.unexplained) lines.push(`  unexplained: ${u}`);
  const missed = report.outcomes.filter((o) => !o.injected).length;
  if (missed) lines.push(`  ${missed} fault(s) not injected (the run finished first)`);
  lines.push(`wall time: uninterrupted ${(r.wallMs / 1000).toFixed(1)} s, chaos ${(c.wallMs / 1000).toFixed(1)} s`);
  lines.push(report.passed ? "PASS: the chaos run ended bit-identical to the uninterrupted run, every step counted once" : "FAIL: see above");
  return lines.join("\n");
}

function short(digest: string | undefined): string {
  return digest ? digest.slice(0, 12) : "missing";
}
