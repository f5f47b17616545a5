// The run directory on disk — log.jsonl, config.json, summary.json, checkpoints/step-NNNNNN/ —
// and the checks that keep a run from losing work silently: every JSON read names its file, a
// checkpoint counts only when its digests verify, a fresh run never writes over an old one, and a
// file-system error says what it means for the run (read-only, full) rather than a bare errno.
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { sha256Hex } from "@grpomesh/data";
import type { RngState } from "@grpomesh/rng";

export const LOG_FILE = "log.jsonl";
/** Records cut from log.jsonl on a resume (steps redone after the checkpoint), kept for reference. */
export const SUPERSEDED_LOG_FILE = "log.superseded.jsonl";
export const CONFIG_FILE = "config.json";
export const SUMMARY_FILE = "summary.json";
export const CHECKPOINTS_DIR = "checkpoints";
export const LATEST_FILE = "latest.json";
/** Checkpoint folders newer than the one a run resumed from (they did not verify) are moved here, never deleted. */
export const SET_ASIDE_DIR = "set-aside";
export const ORCHESTRATOR_STATE_FILE = "orchestrator.json";
export const ORCHESTRATOR_FORMAT = "grpomesh.orchestrator.v1";

export interface OrchestratorCheckpoint {
  format: typeof ORCHESTRATOR_FORMAT;
  step: number;
  data_cursor: unknown;
  rng_state: RngState;
  judge_version: string;
  policy: { dir: string; weights_digest: string; policy_version: number; files: Record<string, string> };
  config: object;
  time: string;
}

// ---------------------------------------------------------------------------------------------
// Errors that say what the file system's answer means

/** A run directory that cannot be written (read-only, full, not a folder): the message says which and what to do. */
export class RunDirError extends Error {
  override name = "RunDirError";
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const MEANING: Record<string, { what: string; fix: string }> = {
  EROFS: { what: "is read-only (EROFS: the file system is mounted read-only)", fix: "choose a writable --run_dir" },
  EACCES: { what: "is read-only (EACCES: permission denied)", fix: "choose a writable --run_dir or fix its permissions" },
  EPERM: { what: "is read-only (EPERM: operation not permitted)", fix: "choose a writable --run_dir or fix its permissions" },
  ENOSPC: { what: "has no space left (ENOSPC: the device is full)", fix: "free some space or choose a --run_dir on another device" },
  EDQUOT: { what: "has no space left (EDQUOT: disk quota exceeded)", fix: "free some space or choose a --run_dir on another device" },
  ENOTDIR: { what: "is not a folder (ENOTDIR: a part of its path is a file)", fix: "choose another --run_dir" },
  EISDIR: { what: "holds a folder where a file belongs (EISDIR)", fix: "move that folder away" },
};

/**
 * An fs error met while working in `runDir`, as "run directory X is read-only (EROFS…): cannot
 * write Y; choose a writable --run_dir". Errors it has no meaning for keep their own message.
 */
export function runDirError(err: unknown, runDir: string, path: string, action: string): Error {
  if (err instanceof RunDirError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const meaning = code ? MEANING[code] : undefined;
  const detail = err instanceof Error ? err.message : String(err);
  if (!meaning) return new RunDirError(`run directory ${runDir}: cannot ${action} ${path}: ${detail}`, code);
  return new RunDirError(`run directory ${runDir} ${meaning.what}: cannot ${action} ${path}; ${meaning.fix}`, code);
}

/** Runs an fs operation in the run directory, turning its error into a runDirError. */
export function inRunDir<T>(runDir: string, path: string, action: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw runDirError(err, runDir, path, action);
  }
}

/**
 * Creates the run directory (and its parents) and checks that a file can be written in it.
 * Node's recursive mkdir spins forever where a parent exists but refuses with ENOENT (a virtual
 * file system such as /proc), so the folders are made one at a time.
 */
export function ensureRunDir(runDir: string): void {
  const missing: string[] = [];
  let p = resolve(runDir);
  while (!existsSync(p)) {
    missing.unshift(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  if (existsSync(p) && !statSync(p).isDirectory()) {
    throw new RunDirError(`run directory ${runDir} is not a folder (${p} is a file); choose another --run_dir`, "ENOTDIR");
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") continue;
      if (code === "ENOENT" && existsSync(dirname(dir))) {
        throw new RunDirError(
          `run directory ${runDir} cannot be created: ${dirname(dir)} does not allow new folders (ENOENT from a read-only or virtual file system); choose a writable --run_dir`,
          "ENOENT",
        );
      }
      throw runDirError(err, runDir, dir, "create folder");
    }
  }
  const probe = join(runDir, `.write-test-${process.pid}`);
  try {
    writeFileSync(probe, "ok\n");
  } catch (err) {
    throw runDirError(err, runDir, probe, "write");
  } finally {
    try {
      rmSync(probe, { force: true });
    } catch {
      // the write failed; nothing to remove
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Files

/** Reads and parses a JSON file; every error names the file and says what is wrong with it. */
export function readJsonFile<T = unknown>(path: string): T {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`${path} does not exist`);
    throw new Error(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text.trim() === "") throw new Error(`${path} is empty (a crash while it was written?)`);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}); it is ${text.length} bytes, truncated or corrupt (a crash while it was written?)`);
  }
}

export function sha256File(path: string): string {
  return sha256Hex(readFileSync(path));
}

/** temp file + fsync + rename: readers see the old file or the new one, never half of one. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

export interface CheckpointFolder {
  name: string;
  dir: string;
  step: number;
}

export const checkpointName = (step: number): string => `step-${String(step).padStart(6, "0")}`;

/** The step-NNNNNN folders under checkpoints/, newest (highest step) first. */
export function listCheckpointFolders(runDir: string): CheckpointFolder[] {
  const root = join(runDir, CHECKPOINTS_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^step-\d+$/.test(e.name))
    .map((e) => ({ name: e.name, dir: join(root, e.name), step: Number(e.name.slice(5)) }))
    .sort((a, b) => b.step - a.step);
}

/** The checkpoint's state after checking it: orchestrator.json parses, and every policy file's sha256 is the one recorded. Throws the reason. */
export function verifyCheckpoint(dir: string, expectedStep?: number): OrchestratorCheckpoint {
  const file = join(dir, ORCHESTRATOR_STATE_FILE);
  if (!existsSync(file)) throw new Error(`${file} does not exist (the checkpoint was not finished)`);
  const state = readJsonFile<OrchestratorCheckpoint>(file);
  if (!state || typeof state !== "object" || state.format !== ORCHESTRATOR_FORMAT) {
    throw new Error(`${file} has format ${JSON.stringify((state as { format?: unknown } | null)?.format)}; expected ${ORCHESTRATOR_FORMAT}`);
  }
  if (!Number.isInteger(state.step) || (expectedStep !== undefined && state.step !== expectedStep)) {
    throw new Error(`${file} records step ${state.step}; its folder name says step ${expectedStep}`);
  }
  const files = state.policy?.files;
  if (!files || typeof files !== "object" || Object.keys(files).length === 0) throw new Error(`${file} records no policy files`);
  const policyDir = join(dir, state.policy.dir);
  for (const [name, digest] of Object.entries(files)) {
    const path = join(policyDir, name);
    if (!existsSync(path)) throw new Error(`${path} is missing (the checkpoint recorded it)`);
    const actual = sha256File(path);
    if (actual !== digest)
      throw new Error(`${path} has sha256 ${actual.slice(0, 16)}…; the checkpoint recorded ${String(digest).slice(0, 16)}… (corrupt or changed)`);
  }
  return state;
}

export interface SkippedCheckpoint {
  checkpoint: string;
  reason: string;
}

export interface CheckpointChoice {
  /** The newest checkpoint whose digests verify. */
  chosen?: CheckpointFolder & { state: OrchestratorCheckpoint };
  /** Newer checkpoints (and latest.json's target) that did not verify, newest first, with why. */
  skipped: SkippedCheckpoint[];
  /** Remarks that are not failures (latest.json unreadable or naming an older checkpoint). */
  notes: string[];
}

/**
 * The checkpoint a resume continues from: the newest step-NNNNNN folder whose orchestrator.json
 * parses and whose policy files match their recorded digests. latest.json is only a pointer
 * written last; when it is missing, truncated or names a folder that is gone, the folders decide.
 */
export function chooseCheckpoint(runDir: string): CheckpointChoice {
  const skipped: SkippedCheckpoint[] = [];
  const notes: string[] = [];
  const folders = listCheckpointFolders(runDir);
  const pointerPath = join(runDir, CHECKPOINTS_DIR, LATEST_FILE);
  let pointed: string | undefined;
  if (existsSync(pointerPath)) {
    try {
      const pointer = readJsonFile<{ checkpoint?: unknown }>(pointerPath);
      if (typeof pointer?.checkpoint !== "string") throw new Error(`${pointerPath} names no checkpoint`);
      pointed = pointer.checkpoint;
      if (!folders.some((f) => f.name === pointed))
        skipped.push({ checkpoint: pointed, reason: `named by ${pointerPath}, but ${join(runDir, CHECKPOINTS_DIR, pointed)} does not exist` });
    } catch (err) {
      notes.push(`${(err as Error).message}; choosing among the checkpoint folders instead`);
    }
  }
  for (const folder of folders) {
    try {
      const state = verifyCheckpoint(folder.dir, folder.step);
      if (pointed && pointed !== folder.name && folders.some((f) => f.name === pointed)) {
        notes.push(`${pointerPath} names ${pointed}, but ${folder.name} is newer and verifies (the run stopped before it moved the pointer)`);
      }
      return { chosen: { ...folder, state }, skipped, notes };
    } catch (err) {
      skipped.push({ checkpoint: folder.name, reason: (err as Error).message });
    }
  }
  return { skipped, notes };
}

/**
 * Moves checkpoint folders aside (checkpoints/set-aside/step-NNNNNN-<time>) so a resumed run can
 * write its own at those steps without replacing anything. Returns where each went.
 */
export function setCheckpointsAside(runDir: string, folders: CheckpointFolder[]): string[] {
  if (folders.length === 0) return [];
  const root = join(runDir, CHECKPOINTS_DIR, SET_ASIDE_DIR);
  inRunDir(runDir, root, "create folder", () => existsSync(root) || mkdirSync(root));
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  return folders.map((f) => {
    let target = join(root, `${f.name}-${stamp}`);
    for (let n = 2; existsSync(target); n++) target = join(root, `${f.name}-${stamp}-${n}`);
    inRunDir(runDir, f.dir, "move aside", () => renameSync(f.dir, target));
    return target;
  });
}

// ---------------------------------------------------------------------------------------------
// The log

export interface LogRecord {
  type: string;
  step?: number;
  time?: string;
  [key: string]: unknown;
}

/** Records that describe a segment of the run (a process's life), not a step: never cut back. */
export const SEGMENT_RECORDS = new Set(["start", "resume", "end"]);

/**
 * log.jsonl's records. A last line cut off by a crash (no newline, not JSON) is returned as
 * `partialLastLine`; a bad line anywhere else is an error naming the file and line.
 */
export function readLog(path: string): { records: LogRecord[]; partialLastLine?: string } {
  if (!existsSync(path)) return { records: [] };
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const records: LogRecord[] = [];
  let partialLastLine: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    try {
      const record = JSON.parse(line) as LogRecord;
      if (!record || typeof record !== "object" || typeof record.type !== "string") throw new Error('not a record with a "type"');
      records.push(record);
    } catch (err) {
      const last = lines.slice(i + 1).every((l) => l.trim() === "");
      if (last && !text.endsWith("\n")) {
        partialLastLine = line;
        continue;
      }
      throw new Error(`${path} line ${i + 1} is not a JSON record (${(err as Error).message}); fix or remove that line`);
    }
  }
  return { records, partialLastLine };
}

/**
 * Cuts log.jsonl back to `step`: step, eval and warning records after it (the steps a resumed run
 * redoes) move to log.superseded.jsonl, and the new log replaces the old one atomically (temp
 * file + rename), so every step is in log.jsonl once. Segment records (start, resume, end) stay.
 */
export function cutLogBack(runDir: string, step: number): { kept: LogRecord[]; removed: LogRecord[]; partialLastLine?: string } {
  const path = join(runDir, LOG_FILE);
  const { records, partialLastLine } = readLog(path);
  const keep = (r: LogRecord) => SEGMENT_RECORDS.has(r.type) || typeof r.step !== "number" || r.step <= step;
  const kept = records.filter(keep);
  const removed = records.filter((r) => !keep(r));
  if (removed.length === 0 && partialLastLine === undefined) return { kept, removed };
  const superseded = join(runDir, SUPERSEDED_LOG_FILE);
  const lines = (rs: LogRecord[]) => rs.map((r) => JSON.stringify(r) + "\n").join("");
  if (removed.length) inRunDir(runDir, superseded, "append to", () => appendFileSync(superseded, lines(removed)));
  inRunDir(runDir, path, "rewrite", () => writeAtomic(path, lines(kept)));
  return { kept, removed, partialLastLine };
}

const ms = (iso: unknown): number => (typeof iso === "string" ? Date.parse(iso) : NaN);

/**
 * Wall time of the run's segments so far, in seconds, from the log: each segment's "end" record
 * when it has one, else (a process that was killed) the time from its start to its last record.
 * Each resume record carries the total before it (prior_wall_s), so a cut log loses nothing.
 */
export function wallSecondsSoFar(records: LogRecord[]): number {
  let lastSegment = -1;
  for (let i = records.length - 1; i >= 0; i--) {
    if (records[i]!.type === "start" || records[i]!.type === "resume") {
      lastSegment = i;
      break;
    }
  }
  if (lastSegment < 0) {
    // A log written without segment records: from its first record to its last.
    const times = records.map((r) => ms(r.time)).filter(Number.isFinite);
    return times.length > 1 ? (Math.max(...times) - Math.min(...times)) / 1000 : 0;
  }
  const seg = records[lastSegment]!;
  const prior = typeof seg.prior_wall_s === "number" ? seg.prior_wall_s : 0;
  const rest = records.slice(lastSegment + 1);
  const end = rest.find((r) => r.type === "end");
  if (end && typeof end.wall_s === "number") return prior + end.wall_s;
  const began = Number.isFinite(ms(seg.segment_start)) ? ms(seg.segment_start) : ms(seg.time);
  const times = [seg, ...rest].map((r) => ms(r.time)).filter(Number.isFinite);
  return prior + (times.length && Number.isFinite(began) ? Math.max(0, Math.max(...times) - began) / 1000 : 0);
}

export interface RunSummaryFromLog {
  steps: number;
  /** Each step once (the log is cut back on resume): the count of step records. */
  step_records: number;
  /** The evaluation the run started with (step 0), and the last one. */
  first_eval?: LogRecord;
  last_eval?: LogRecord;
  mean_kl: number;
  final_kl: number;
  segments: number;
}

/** The whole run as log.jsonl tells it: first evaluation → last, KL over every step, segments. */
export function summarizeLog(records: LogRecord[]): RunSummaryFromLog {
  const steps = records.filter((r) => r.type === "step");
  const evals = records.filter((r) => r.type === "eval");
  const kl = steps.map((r) => (typeof r.mean_kl === "number" ? r.mean_kl : 0));
  return {
    steps: steps.length ? Math.max(...steps.map((r) => r.step ?? 0)) : 0,
    step_records: steps.length,
    first_eval: evals.find((r) => r.step === 0) ?? evals[0],
    last_eval: evals[evals.length - 1],
    mean_kl: kl.length ? kl.reduce((a, b) => a + b, 0) / kl.length : 0,
    final_kl: kl.length ? kl[kl.length - 1]! : 0,
    segments: records.filter((r) => r.type === "start" || r.type === "resume").length || 1,
  };
}

// ---------------------------------------------------------------------------------------------
// What a run directory holds

export interface RunDirContents {
  /** Step records in log.jsonl (0 when there is no log). */
  loggedSteps: number;
  /** Any records in log.jsonl. */
  logRecords: number;
  checkpoints: CheckpointFolder[];
  hasLatest: boolean;
  hasSummary: boolean;
}

export function inspectRunDir(runDir: string): RunDirContents {
  const logPath = join(runDir, LOG_FILE);
  let logRecords = 0;
  let loggedSteps = 0;
  if (existsSync(logPath)) {
    // Counted by line so a corrupt log still counts as "a run was here".
    for (const line of readFileSync(logPath, "utf8").split("\n")) {
      if (line.trim() === "") continue;
      logRecords++;
      if (line.includes('"type":"step"')) loggedSteps++;
    }
  }
  return {
    loggedSteps,
    logRecords,
    checkpoints: listCheckpointFolders(runDir),
    hasLatest: existsSync(join(runDir, CHECKPOINTS_DIR, LATEST_FILE)),
    hasSummary: existsSync(join(runDir, SUMMARY_FILE)),
  };
}

/** Refuses to start a fresh run in a directory that holds another run's log or checkpoints. */
export function assertFreshRunDir(runDir: string): void {
  if (!existsSync(runDir)) return;
  const c = inspectRunDir(runDir);
  if (c.checkpoints.length || c.hasLatest) {
    throw new Error(
      `${runDir} already holds checkpoints; pass --resume to continue that run, or choose another --run_dir (it holds ${c.checkpoints.map((f) => f.name).join(", ") || LATEST_FILE})`,
    );
  }
  if (c.logRecords > 0) {
    throw new Error(
      `${runDir} already holds a run's ${LOG_FILE} (${c.loggedSteps} steps, no checkpoint); a fresh run would write over it — choose another --run_dir, or move that run away`,
    );
  }
}

/** The newest checkpoint folder whose digests verify, or undefined. */
export function latestCheckpoint(runDir: string): string | undefined {
  return chooseCheckpoint(runDir).chosen?.dir;
}
