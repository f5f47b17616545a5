// One judge model in memory: onnxruntime sessions (in worker threads) that passed the contract
// check and a warm-up inference, its version, and a reference count so a swapped-out model is
// released only after the requests still running on it finish.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, dirname, sep } from "node:path";
import { inspectJudgeModel, JudgeContractError, type JudgeModelInfo } from "@grpomesh/onnx-export/contract";
import { echo, failedPrecondition, invalidArgument, notFound } from "@grpomesh/rpc";
import type { ExecutionProvider, ProviderSelection } from "@grpomesh/onnx-export/providers";
import { describePlacement, graphPlacement } from "@grpomesh/onnx-export/placement";
import { SessionPool } from "./session-pool.ts";

export type TokenIds = Int32Array | BigInt64Array;

export interface LoadModelOptions {
  /** The resolved execution provider (resolveExecutionProvider). */
  provider: ProviderSelection;
  /** onnxruntime intra-op threads per session; 0 lets onnxruntime choose. */
  threads: number;
  /** Sessions (worker threads) that may run at once; default 1. */
  sessions?: number;
  /** Overrides the version from the model's metadata or folder; the label still ends with the file's digest (see versionLabel). */
  version?: string;
  /** Most tokens per onnxruntime run (larger requests run in pieces); 0 or absent: whole requests. */
  runTokens?: number;
}

/** Sequence length of the warm-up inference when the model's seq_len is dynamic. */
const WARMUP_DYNAMIC_SEQ_LEN = 8;

export class LoadedModel {
  readonly name: string;
  readonly version: string;
  /** "sha256:<hex>" of the file's bytes. */
  readonly digest: string;
  /** Read, check, session creation and warm-up, in ms (set by loadJudgeModel). */
  loadMs = 0;
  /** Which provider runs the graph's nodes ("all 140 nodes on webgpu"); onnxruntime's assignment, read on GPU providers only. */
  placement = "";
  private refs = 1;
  private releasedPromise: Promise<void> | null = null;

  constructor(
    readonly path: string,
    readonly info: JudgeModelInfo,
    readonly sessions: SessionPool,
    readonly executionProvider: ExecutionProvider,
    fields: { name: string; version: string; digest: string },
  ) {
    this.name = fields.name;
    this.version = fields.version;
    this.digest = fields.digest;
  }

  /** Another holder of this model (a request in flight); pair with `release()`. */
  acquire(): this {
    if (this.refs <= 0) throw new Error(`judge model ${this.version} was already released; acquire it from the model slot instead`);
    this.refs++;
    return this;
  }

  /** Drops one reference; the last one frees the onnxruntime sessions. */
  release(): void {
    if (this.refs <= 0) throw new Error(`judge model ${this.version} released more often than acquired`);
    if (--this.refs === 0) this.releasedPromise = this.sessions.release();
  }

  get references(): number {
    return this.refs;
  }

  /** Resolves once the sessions have been freed (null while someone still holds the model). */
  get released(): Promise<void> | null {
    return this.releasedPromise;
  }

  /** One onnxruntime run over `rows` sequences of `seqLen` ids already in the model's input dtype. */
  async run(ids: TokenIds, rows: number, seqLen: number): Promise<Float32Array> {
    const type = ids instanceof BigInt64Array ? "int64" : "int32";
    if (type !== this.info.inputDtype) throw new Error(`run() got ${type} ids; model ${this.version} takes ${this.info.inputDtype} (convert at the edge)`);
    // onnxruntime's WebGPU provider does not refuse an input shorter than its shape (a run never
    // returns), and a transferred array reads as empty: check here, on every provider.
    if (ids.length !== rows * seqLen)
      throw new Error(`run() got ${ids.length} ids for ${rows} × ${seqLen} (a buffer already transferred reads as empty); pass rows·seqLen ids`);
    const { scores, dims } = await this.sessions.run(ids, rows, seqLen, this.info.inputName, this.info.outputName);
    if (scores.length !== rows) {
      throw new Error(`judge model ${this.version} returned float32 [${dims.join(", ")}] for ${rows} sequences; expected float32 [${rows}] or [${rows}, 1]`);
    }
    return scores;
  }
}

/**
 * A name for a model without grpomesh.name: the file name, or for a Triton-style
 * `<name>/<version>/model.onnx` layout the folder that names it.
 */
export function nameFromPath(path: string): string {
  const file = basename(path).replace(/\.onnx$/i, "");
  if (file !== "model") return file;
  const dirs = dirname(path).split(sep).filter(Boolean).reverse();
  return dirs.find((d) => !/^\d+$/.test(d)) ?? file;
}

/** The version folder of a `<name>/<version>/model.onnx` path (a positive integer), else null. */
export function versionFromPath(path: string): string | null {
  if (basename(path) !== "model.onnx") return null;
  const folder = basename(dirname(path));
  return /^[1-9]\d*$/.test(folder) ? folder : null;
}

/** Longest version label a LoadModel request may give (it labels metrics and every score). */
export const MAX_VERSION_CHARS = 128;
/** Hex digits of the file's sha256 a label carries: enough to tell files apart, short enough to read. */
export const LABEL_DIGEST_HEX = 12;
const DIGEST_TAIL = /(?:^|\+)sha256:([0-9a-f]+)$/;

/** A requested version label: at most MAX_VERSION_CHARS printable characters (INVALID_ARGUMENT otherwise). */
export function checkVersionField(version: string): void {
  if (version.length > MAX_VERSION_CHARS)
    throw invalidArgument(`version is ${version.length} characters (${echo(version, 40)}); a version label is at most ${MAX_VERSION_CHARS}`);
  if (/[\p{Cc}\s]/u.test(version))
    throw invalidArgument(`version ${echo(version)} contains whitespace or control characters; expected a label such as judge-v2`);
}

/**
 * The label a model is served under: `<base>+sha256:<12 hex of the file>`, or `sha256:<12 hex>`
 * without a base, so two files with the same metadata never share a label. `base` is the
 * requested version, else the model's grpomesh.version, else its version folder. A requested label
 * that already ends in a digest (a rollback to a label Info reported) is kept when the digest is
 * this file's and refused (FAILED_PRECONDITION) when the file has changed since.
 */
export function versionLabel(fileDigest: string, requested: string | undefined, fromModel: string | null, path: string): string {
  const hex = fileDigest.replace(/^sha256:/, "").slice(0, LABEL_DIGEST_HEX);
  const tail = requested ? DIGEST_TAIL.exec(requested) : null;
  if (requested && tail) {
    if (tail[1] === hex) return requested;
    throw failedPrecondition(
      `version ${echo(requested)} names file digest sha256:${tail[1]} but ${path} has sha256:${hex}; the file changed since that label was given. Load it without a version (or with one that does not end in +sha256:…) to serve what is there now`,
    );
  }
  const base = requested || fromModel;
  return base ? `${base}+sha256:${hex}` : `sha256:${hex}`;
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw notFound(`judge model ${path} does not exist; expected an .onnx file (check the path and the model repository)`);
    throw failedPrecondition(`cannot read judge model ${path}: ${(err as Error).message}`);
  }
}

/**
 * Reads `path`, checks it against the judge contract (docs/judge-contract.md), creates the session
 * and runs one warm-up inference. Every failure says which file and why: NOT_FOUND for a missing
 * file, FAILED_PRECONDITION (with the contract message) for a model that cannot serve.
 */
export async function loadJudgeModel(path: string, opts: LoadModelOptions): Promise<LoadedModel> {
  const started = performance.now();
  const bytes = await readModelFile(path);
  const refuse = (why: string) => failedPrecondition(`judge model ${path} refused: ${why}`);
  const contract = (fn: () => JudgeModelInfo) => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof JudgeContractError) throw refuse(`${err.message} (see docs/judge-contract.md)`);
      throw err;
    }
  };
  // The byte-level check first: it is cheap and explains a wrong file better than onnxruntime does.
  const declared = contract(() => inspectJudgeModel(bytes));
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const version = versionLabel(digest, opts.version, declared.version || versionFromPath(path), path);

  let sessions: SessionPool;
  try {
    sessions = await SessionPool.create(bytes, {
      sessions: opts.sessions ?? 1,
      threads: opts.threads,
      executionProviders: opts.provider.sessionProviders,
      runTokens: opts.runTokens ?? 0,
    });
  } catch (err) {
    throw refuse(`onnxruntime cannot create a session (${(err as Error).message})`);
  }

  let info: JudgeModelInfo;
  try {
    info = contract(() => inspectJudgeModel(bytes, sessions.io));
  } catch (err) {
    await sessions.release();
    throw err;
  }
  const model = new LoadedModel(path, info, sessions, opts.provider.provider, {
    name: info.name ?? nameFromPath(path),
    version,
    digest,
  });
  try {
    await warmUp(model);
  } catch (err) {
    model.release();
    await model.released;
    throw refuse(`warm-up inference failed: ${(err as Error).message}`);
  }
  if (opts.provider.provider === "cpu") model.placement = "all nodes on cpu";
  else {
    try {
      model.placement = describePlacement(await graphPlacement(bytes, opts.provider.sessionProviders), opts.provider.provider);
    } catch (err) {
      model.placement = `unknown (${(err as Error).message.slice(0, 200)})`;
    }
  }
  model.loadMs = performance.now() - started;
  return model;
}

/**
 * One sequence of token 0 (every vocabulary has it) on every session at once: proves the graph
 * runs and returns one finite score, and pays each session's first-run cost before traffic does.
 */
async function warmUp(model: LoadedModel): Promise<void> {
  const seqLen = model.info.seqLen ?? WARMUP_DYNAMIC_SEQ_LEN;
  const one = async () => {
    const ids = model.info.inputDtype === "int64" ? new BigInt64Array(seqLen) : new Int32Array(seqLen);
    const scores = await model.run(ids, 1, seqLen);
    if (!Number.isFinite(scores[0])) throw new Error(`the score of an all-zero sequence is ${scores[0]}; expected a finite number`);
  };
  await Promise.all(Array.from({ length: model.sessions.size }, one));
}
