// The run state hostile traffic must not change: what each service reports about itself, every
// file under the watched folders, and whether each service still answers health.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join, relative } from "node:path";
import { JudgeService, OrchestratorService, PolicyService, ReferenceService, RunState } from "@grpomesh/proto";
import { checkHealth, createClient, type Security } from "@grpomesh/rpc";
import type { ServiceName } from "./cases.ts";

export interface RunStateSnapshot {
  /** One line per fact, e.g. "policy.weights_digest=ab12…". */
  facts: Map<string, string>;
  /** path → "file <size> <sha256>", "dir", or "link -> target". */
  files: Map<string, string>;
}

/** Folders under the temp root that change for reasons of their own (service logs). */
const UNWATCHED = new Set(["logs"]);

export async function snapshot(targets: Record<ServiceName, string>, security: Security, watched: readonly string[], root: string): Promise<RunStateSnapshot> {
  const facts = new Map<string, string>();
  const opts = { security, deadlineMs: 15_000 };
  const policy = createClient(PolicyService, targets.policy, opts);
  const reference = createClient(ReferenceService, targets.reference, opts);
  const judge = createClient(JudgeService, targets.judge, opts);
  const orchestrator = createClient(OrchestratorService, targets.orchestrator, opts);
  try {
    const [p, r, j, o] = await Promise.all([policy.info({}), reference.info({}), judge.info({}), orchestrator.status({})]);
    facts.set("policy.weights_digest", p.weightsDigest);
    facts.set("policy.policy_version", String(p.policyVersion));
    facts.set("policy.last_step", String(p.lastStep));
    facts.set("reference.weights_digest", r.weightsDigest);
    facts.set("judge.model_version", j.modelVersion);
    facts.set("judge.model_path", j.modelPath);
    facts.set("orchestrator.step", String(o.step));
    facts.set("orchestrator.state", RunState[o.state] ?? String(o.state));
    facts.set("orchestrator.judge_version", o.judgeVersion);
    facts.set("orchestrator.error", o.error);
  } finally {
    policy.close();
    reference.close();
    judge.close();
    orchestrator.close();
  }
  const files = new Map<string, string>();
  for (const w of watched) walk(w, root, files);
  return { facts, files };
}

function walk(path: string, root: string, out: Map<string, string>): void {
  const name = path.startsWith(root) ? relative(root, path) || "." : path;
  if (!existsSync(path) && !isLink(path)) return;
  const st = lstatSync(path);
  if (st.isSymbolicLink()) out.set(name, `link -> ${readlinkSync(path)}`);
  else if (st.isDirectory()) {
    out.set(name, "dir");
    for (const entry of readdirSync(path).sort()) {
      if (path === root && UNWATCHED.has(entry)) continue;
      walk(join(path, entry), root, out);
    }
  } else out.set(name, `file ${st.size} ${createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16)}`);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Every difference between two snapshots, one line each. */
export function stateChanges(before: RunStateSnapshot, after: RunStateSnapshot): string[] {
  const out: string[] = [];
  for (const [k, v] of before.facts) if (after.facts.get(k) !== v) out.push(`${k}: ${v} → ${after.facts.get(k)}`);
  for (const [p, v] of before.files) {
    const now = after.files.get(p);
    if (now === undefined) out.push(`${p} was removed (was ${v})`);
    else if (now !== v) out.push(`${p} changed: ${v} → ${now}`);
  }
  for (const [p, v] of after.files) if (!before.files.has(p)) out.push(`${p} appeared (${v})`);
  return out;
}

/** The services that do not answer SERVING to a health check now. */
export async function unhealthy(targets: Record<ServiceName, string>, security: Security): Promise<string[]> {
  const out: string[] = [];
  await Promise.all(
    (Object.entries(targets) as Array<[ServiceName, string]>).map(async ([name, target]) => {
      try {
        const status = await checkHealth(target, "", 5_000, security);
        if (status !== "SERVING") out.push(`${name}: health ${status}`);
      } catch (err) {
        out.push(`${name}: ${(err as Error).message}`);
      }
    }),
  );
  return out;
}
