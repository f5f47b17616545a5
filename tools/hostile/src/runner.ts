// Sends hostile calls with bounded concurrency and tallies them per service × method: calls,
// status counts, the slowest answer, and every violation with the request that caused it.
import { statusName } from "@grpomesh/rpc";
import type { Auth, CaseFactory, StackFacts } from "./cases.ts";
import { violations, type CallResult, type HostileCall, type RawClients } from "./probe.ts";
import type { HostileValues } from "./values.ts";

export interface Violation {
  service: string;
  method: string;
  label: string;
  auth: Auth;
  /** What the request held, in a line (sizes, not contents, for long values). */
  request: string;
  code: string;
  details: string;
  problems: string[];
}

export interface MethodTally {
  calls: number;
  codes: Map<string, number>;
  maxLatencyMs: number;
  violations: number;
}

export class Tally {
  readonly methods = new Map<string, MethodTally>();
  readonly violations: Violation[] = [];
  calls = 0;

  record(call: HostileCall, res: CallResult, problems: string[]): void {
    const key = `${call.service} ${call.method}`;
    let t = this.methods.get(key);
    if (!t) this.methods.set(key, (t = { calls: 0, codes: new Map(), maxLatencyMs: 0, violations: 0 }));
    t.calls++;
    this.calls++;
    const code = statusName(res.code);
    t.codes.set(code, (t.codes.get(code) ?? 0) + 1);
    t.maxLatencyMs = Math.max(t.maxLatencyMs, res.latencyMs);
    if (problems.length) {
      t.violations++;
      this.violations.push({
        service: call.service,
        method: call.method,
        label: call.label,
        auth: call.auth,
        request: `${call.request.detail ? `${call.request.detail}; ` : ""}${describeBody(call.request.body)}`,
        code,
        details: res.details.length > 300 ? `${res.details.slice(0, 300)}… (${res.details.length} characters)` : res.details,
        problems,
      });
    }
  }

  /** The table the long run ends with. */
  table(): string {
    const rows = [...this.methods.entries()].sort(([a], [b]) => a.localeCompare(b));
    const header = ["service", "method", "calls", "statuses", "max ms", "violations"];
    const body = rows.map(([key, t]) => {
      const [service, method] = key.split(" ");
      const codes = [...t.codes.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([c, n]) => `${c}:${n}`)
        .join(" ");
      return [service!, method!, String(t.calls), codes, String(Math.round(t.maxLatencyMs)), String(t.violations)];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
    return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
  }

  /** Violations grouped by service, method, case and problem, with one example each. */
  violationReport(limit = 40): string {
    const groups = new Map<string, { n: number; v: Violation }>();
    for (const v of this.violations) {
      const key = `${v.service}.${v.method} [${v.label}, auth ${v.auth}] ${v.code}: ${v.problems.join("; ")}`;
      const g = groups.get(key);
      if (g) g.n++;
      else groups.set(key, { n: 1, v });
    }
    return [...groups.entries()]
      .slice(0, limit)
      .map(([key, { n, v }]) => `${key} ×${n}\n    request: ${v.request}\n    message: ${JSON.stringify(v.details)}`)
      .join("\n");
  }
}

function describeBody(body: Uint8Array): string {
  const hex = Buffer.from(body.subarray(0, 24)).toString("hex");
  return `${body.byteLength} bytes${body.byteLength ? ` (${hex}${body.byteLength > 24 ? "…" : ""})` : ""}`;
}

/** One call per (case, auth), `repeats` times, built as they are sent: the systematic pass the test makes. */
export function* everyCase(cases: readonly CaseFactory[], h: HostileValues, facts: StackFacts, repeats = 1): Generator<HostileCall> {
  for (const c of cases) {
    for (let r = 0; r < repeats; r++) {
      for (const auth of c.auths) yield { service: c.service, method: c.method, label: c.label, auth, deadlineMs: c.deadlineMs, request: c.make(h, facts) };
      if (c.label === "oversized message") break; // megabytes each: once is enough
    }
  }
}

/** One call drawn at random, cases weighted. */
export function randomCall(cases: readonly CaseFactory[], h: HostileValues, facts: StackFacts): HostileCall {
  const total = cases.reduce((s, c) => s + c.weight, 0);
  let x = h.rng.next() * total;
  let c = cases[cases.length - 1]!;
  for (const k of cases) {
    x -= k.weight;
    if (x < 0) {
      c = k;
      break;
    }
  }
  return { service: c.service, method: c.method, label: c.label, auth: h.pick(c.auths), deadlineMs: c.deadlineMs, request: c.make(h, facts) };
}

/** Runs calls from `next` with at most `concurrency` in flight until it returns undefined. */
export async function runCalls(clients: RawClients, next: () => HostileCall | undefined, tally: Tally, concurrency: number): Promise<void> {
  const worker = async () => {
    for (let call = next(); call; call = next()) {
      const res = await clients.call(call);
      tally.record(call, res, violations(call, res));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
