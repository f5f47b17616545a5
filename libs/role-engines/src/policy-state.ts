// policy-state.json: what a policy checkpoint holds besides weights and optimizer moments — the
// version counter, the last applied step and the recorded results of recent updates, so that a
// restored policy still answers a retried Update from memory with the same metrics.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { UpdateMetrics } from "@grpomesh/loop";
import { failedPrecondition } from "./errors.ts";

export const POLICY_STATE_FILE = "policy-state.json";
export const POLICY_STATE_FORMAT = "grpomesh.policy-state.v1";

/** AdamW's settings (the moments live in optimizer.safetensors). */
export interface OptimizerSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** One applied update as recorded for replays. */
export interface RecordedUpdate {
  step: number;
  policyVersion: number;
  metrics: UpdateMetrics;
  /** sha256 of the request (see updateDigest): a replay must be the same request. */
  payloadSha256: string;
}

export interface PolicyStateFile {
  policyVersion: number;
  lastStep: number;
  weightsDigest: string;
  optimizer: OptimizerSettings | null;
  recentUpdates: RecordedUpdate[];
}

const METRIC_KEYS: ReadonlyArray<keyof UpdateMetrics> = [
  "loss",
  "pgLoss",
  "klPenalty",
  "meanKl",
  "meanLogProb",
  "gradNorm",
  "learningRate",
  "clipFrac",
  "updateMs",
  "tokens",
  "staleness",
  "importanceWeightMean",
  "importanceWeightMin",
  "importanceWeightMax",
  "importanceWeightCappedFrac",
];

/** Metrics added after the format was first written, and their value for a synchronous step (what an older file's updates were). */
const LATER_METRICS: Partial<Record<keyof UpdateMetrics, number>> = {
  staleness: 0,
  importanceWeightMean: 1,
  importanceWeightMin: 1,
  importanceWeightMax: 1,
  importanceWeightCappedFrac: 0,
};

// JSON has no NaN (mean_kl is NaN when no reference log-probs were sent): keep such values as
// strings so a replay after a restore returns exactly what the first answer did.
const encodeNumber = (x: number): number | string => (Number.isFinite(x) ? x : String(x));
const decodeNumber = (x: unknown): number =>
  typeof x === "number" ? x : x === "NaN" ? NaN : x === "Infinity" ? Infinity : x === "-Infinity" ? -Infinity : NaN;

export function formatPolicyState(s: PolicyStateFile): string {
  return (
    JSON.stringify(
      {
        format: POLICY_STATE_FORMAT,
        policy_version: s.policyVersion,
        last_step: s.lastStep,
        weights_digest: s.weightsDigest,
        optimizer: s.optimizer && { beta1: s.optimizer.beta1, beta2: s.optimizer.beta2, eps: s.optimizer.eps, weight_decay: s.optimizer.weightDecay },
        recent_updates: s.recentUpdates.map((r) => ({
          step: r.step,
          policy_version: r.policyVersion,
          payload_sha256: r.payloadSha256,
          metrics: Object.fromEntries(METRIC_KEYS.map((k) => [k, encodeNumber(r.metrics[k])])),
        })),
      },
      null,
      2,
    ) + "\n"
  );
}

/** Reads `dir/policy-state.json`; null when the folder has none (a plain pretrained checkpoint). */
export function readPolicyState(dir: string): PolicyStateFile | null {
  const path = join(dir, POLICY_STATE_FILE);
  if (!existsSync(path)) return null;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw failedPrecondition(`${path} is not valid JSON (${(err as Error).message}); restore the checkpoint from a good copy`);
  }
  const bad = (what: string) => failedPrecondition(`${path}: ${what}; the file is damaged or from another program — restore the checkpoint from a good copy`);
  if (raw?.format !== POLICY_STATE_FORMAT) throw bad(`format is ${JSON.stringify(raw?.format)}, expected "${POLICY_STATE_FORMAT}"`);
  const count = (v: unknown, name: string) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw bad(`${name} is ${JSON.stringify(v)}, expected an integer ≥ 0`);
    return v;
  };
  const policyVersion = count(raw.policy_version, "policy_version");
  const lastStep = count(raw.last_step, "last_step");
  if (typeof raw.weights_digest !== "string" || !/^[0-9a-f]{64}$/.test(raw.weights_digest))
    throw bad(`weights_digest is ${JSON.stringify(raw.weights_digest)}, expected 64 hex digits`);
  let optimizer: OptimizerSettings | null = null;
  if (raw.optimizer !== null && raw.optimizer !== undefined) {
    const o = raw.optimizer as Record<string, unknown>;
    const num = (v: unknown, name: string) => {
      if (typeof v !== "number" || !Number.isFinite(v)) throw bad(`optimizer.${name} is ${JSON.stringify(v)}, expected a number`);
      return v;
    };
    optimizer = { beta1: num(o.beta1, "beta1"), beta2: num(o.beta2, "beta2"), eps: num(o.eps, "eps"), weightDecay: num(o.weight_decay, "weight_decay") };
  }
  if (!Array.isArray(raw.recent_updates)) throw bad("recent_updates is missing, expected an array");
  const recentUpdates = (raw.recent_updates as Array<Record<string, unknown>>).map((r, n) => {
    const m = (r?.metrics ?? {}) as Record<string, unknown>;
    if (typeof r?.payload_sha256 !== "string") throw bad(`recent_updates[${n}].payload_sha256 is missing`);
    for (const k of METRIC_KEYS) if (!(k in m) && !(k in LATER_METRICS)) throw bad(`recent_updates[${n}].metrics.${k} is missing`);
    return {
      step: count(r.step, `recent_updates[${n}].step`),
      policyVersion: count(r.policy_version, `recent_updates[${n}].policy_version`),
      payloadSha256: r.payload_sha256,
      metrics: Object.fromEntries(METRIC_KEYS.map((k) => [k, k in m ? decodeNumber(m[k]) : LATER_METRICS[k]])) as unknown as UpdateMetrics,
    };
  });
  return { policyVersion, lastStep, weightsDigest: raw.weights_digest, optimizer, recentUpdates };
}
