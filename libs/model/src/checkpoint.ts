// A checkpoint is a folder: config.json + model.safetensors (docs/model-format.md), optionally
// more named tensor files (e.g. optimizer.safetensors) and small extra files (e.g. run state).
// The folder is written beside its destination and renamed into place, so a reader sees either
// the old checkpoint or the new one, never half of each. Every folder it writes carries a marker
// file, and a save replaces only a folder that has one: it never removes anything it did not write.
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { expectedTensorShapes, validateConfig, type ModelConfig } from "./config.ts";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "./safetensors.ts";

export const CONFIG_FILE = "config.json";
export const WEIGHTS_FILE = "model.safetensors";
const DIGEST_KEY = "sha256";
const NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;
/** Marks a folder as a checkpoint this project wrote; only such a folder is ever replaced. */
export const CHECKPOINT_MARKER = ".grpomesh-checkpoint";

/** Thrown when a save would replace something that is not a checkpoint folder; maps to FAILED_PRECONDITION. */
export class NotACheckpointError extends Error {
  override name = "NotACheckpointError";
  readonly grpcCode = 9; // FAILED_PRECONDITION, without importing grpc here
}

/** True when `dir` is a folder that saveCheckpoint wrote (it carries the marker file). */
export function isCheckpointFolder(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && statSync(join(dir, CHECKPOINT_MARKER)).isFile();
  } catch {
    return false;
  }
}

export type Weights = Map<string, Float32Array>;

export interface CheckpointContents {
  config: ModelConfig;
  weights: Weights;
  /** Extra tensor files, keyed by file stem: `optimizer` → optimizer.safetensors. */
  extraTensors?: Record<string, Map<string, SafeTensor>>;
  /** Extra small files (JSON state, notes), keyed by file name. */
  extraFiles?: Record<string, string | Uint8Array>;
  /** Strings stored in model.safetensors' `__metadata__` (the digest is added). */
  metadata?: Record<string, string>;
}

export interface LoadedCheckpoint {
  config: ModelConfig;
  weights: Weights;
  /** sha256 of the weights (see weightsDigest). */
  digest: string;
  metadata: Record<string, string>;
  extraTensors: Record<string, Map<string, SafeTensor>>;
}

/**
 * sha256 over the weights in name order: for each tensor its name, shape and raw little-endian
 * bytes. Independent of Map insertion order and of file layout, so two engines holding the same
 * numbers agree.
 */
export function weightsDigest(weights: Weights, shapes?: Map<string, number[]>): string {
  const hash = createHash("sha256");
  for (const name of [...weights.keys()].sort()) {
    const data = weights.get(name)!;
    const shape = shapes?.get(name) ?? [data.length];
    hash.update(`${name}\0${shape.join(",")}\0${data.length}\0`);
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest("hex");
}

/** Names what is missing, unexpected or mis-shaped relative to the config; throws if anything is. */
export function checkWeightsAgainstConfig(config: ModelConfig, weights: Map<string, { length: number } | SafeTensor>, source = "weights"): void {
  const expected = expectedTensorShapes(config);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const got = weights.get(name);
    if (!got) {
      problems.push(`missing "${name}" [${shape}]`);
      continue;
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if ("shape" in got) {
      if (got.dtype !== "F32") problems.push(`"${name}" is ${got.dtype}; expected F32`);
      if (got.shape.join(",") !== shape.join(",")) problems.push(`"${name}" has shape [${got.shape}]; expected [${shape}]`);
    } else if (got.length !== count) {
      problems.push(`"${name}" has ${got.length} values; expected ${count} for shape [${shape}]`);
    }
  }
  for (const name of weights.keys()) if (!expected.has(name)) problems.push(`unexpected "${name}"`);
  if (problems.length) {
    throw new Error(
      `${source} do not match the config (${config.model_type}, n_layer ${config.n_layer}, d_model ${config.d_model}, d_ff ${config.d_ff}, vocab ${config.vocab_size}, seq_len ${config.seq_len}):\n  - ${problems.join("\n  - ")}\n` +
        `Check that config.json belongs to these weights (names and shapes are listed in docs/model-format.md).`,
    );
  }
}

function writeFileSynced(path: string, data: string | Uint8Array): void {
  const fd = openSync(path, "w");
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes one file atomically: temp file in the same folder, fsync, rename, fsync the folder. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(resolve(path));
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    writeFileSynced(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

/**
 * Saves a checkpoint folder atomically and returns the weights digest. The new folder is written
 * and fsynced beside `dir`, then swapped in with renames; an existing `dir` is replaced whole.
 */
export function saveCheckpoint(dir: string, contents: CheckpointContents): string {
  const config = validateConfig(contents.config);
  checkWeightsAgainstConfig(config, contents.weights, "weights to save");
  const shapes = expectedTensorShapes(config);
  const digest = weightsDigest(contents.weights, shapes);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, data] of contents.weights) tensors.set(name, { dtype: "F32", shape: shapes.get(name)!, data });
  const files: Array<[string, string | Uint8Array]> = [[WEIGHTS_FILE, encodeSafetensors(tensors, { ...contents.metadata, [DIGEST_KEY]: digest })]];
  for (const [stem, extra] of Object.entries(contents.extraTensors ?? {})) {
    if (!NAME_RE.test(stem) || stem === "model") throw new Error(`extra tensor file name "${stem}" must match ${NAME_RE} and not be "model"`);
    files.push([`${stem}.safetensors`, encodeSafetensors(extra)]);
  }
  for (const [name, data] of Object.entries(contents.extraFiles ?? {})) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || name === CONFIG_FILE || name.endsWith(".safetensors")) {
      throw new Error(`extra file name "${name}" must be a plain file name, not ${CONFIG_FILE} or *.safetensors (use extraTensors for tensors)`);
    }
    files.push([name, data]);
  }
  files.push([CHECKPOINT_MARKER, JSON.stringify({ format: "grpomesh.checkpoint.v1", weights_sha256: digest }) + "\n"]);
  // config.json last: a folder with a config is complete.
  files.push([CONFIG_FILE, JSON.stringify(config, null, 2) + "\n"]);

  const target = resolve(dir);
  const existing = lstatOrNull(target);
  if (existing && !(existing.isDirectory() && isCheckpointFolder(target))) {
    throw new NotACheckpointError(
      `${target} already exists and is not a checkpoint folder this project wrote (${existing.isDirectory() ? `no ${CHECKPOINT_MARKER} marker` : existing.isSymbolicLink() ? "a symbolic link" : "a file"}); ` +
        `nothing was changed. Save to a new folder, or remove it yourself if it is yours to remove.`,
    );
  }
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmp = join(parent, `.${basename(target)}.tmp-${suffix}`);
  const old = join(parent, `.${basename(target)}.old-${suffix}`);
  mkdirSync(tmp);
  try {
    for (const [name, data] of files) writeFileSynced(join(tmp, name), data);
    fsyncDir(tmp);
    // Linux cannot rename a folder over a non-empty one: move the old checkpoint aside first.
    const hadOld = existing !== null;
    if (hadOld) renameSync(target, old);
    try {
      renameSync(tmp, target);
    } catch (err) {
      if (hadOld) renameSync(old, target);
      throw err;
    }
    fsyncDir(parent);
    if (hadOld) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return digest;
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Reads and validates config.json alone (cheap: no weights). */
export function loadConfig(dir: string): ModelConfig {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) throw new Error(`no ${CONFIG_FILE} in ${dir}; expected a checkpoint folder with ${CONFIG_FILE} and ${WEIGHTS_FILE}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message})`);
  }
  try {
    return validateConfig(raw);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/**
 * Loads a checkpoint folder, checking every tensor against the config and, when the file carries
 * one, the stored digest against the weights read. Extra `*.safetensors` files are loaded too.
 */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const config = loadConfig(dir);
  const path = join(dir, WEIGHTS_FILE);
  if (!existsSync(path)) throw new Error(`no ${WEIGHTS_FILE} in ${dir}; a checkpoint folder holds ${CONFIG_FILE} and ${WEIGHTS_FILE}`);
  const file = decodeSafetensors(readFileSync(path), path);
  checkWeightsAgainstConfig(config, file.tensors, path);
  const weights: Weights = new Map();
  for (const [name, t] of file.tensors) weights.set(name, t.data as Float32Array);
  const digest = weightsDigest(weights, expectedTensorShapes(config));
  const stored = file.metadata[DIGEST_KEY];
  if (stored !== undefined && stored !== digest) {
    throw new Error(`${path}: weights digest ${digest} differs from the stored ${stored}; the file is corrupt or was edited. Restore it from a good copy.`);
  }
  const extraTensors: Record<string, Map<string, SafeTensor>> = {};
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".safetensors") && name !== WEIGHTS_FILE && !name.startsWith(".")) {
      extraTensors[name.slice(0, -".safetensors".length)] = decodeSafetensors(readFileSync(join(dir, name)), join(dir, name)).tensors;
    }
  }
  return { config, weights, digest, metadata: file.metadata, extraTensors };
}
