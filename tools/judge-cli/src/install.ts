// `judge install SOURCE`: a judge model into a model repository as <name>/<version>/model.onnx, the
// layout the judges load and poll. The file appears whole or not at all (written beside its place
// under a hidden name, checked, then linked in), an existing file is never replaced, and the model
// must load and score as a judge — with the judges' own loader — before it is placed, so no judge
// can ever pick up a half-written or foreign file. Installing the same bytes again succeeds, so a
// retried Job is harmless.
import { createHash, randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConfigError } from "@grpomesh/config";
import { loadJudgeModel, resolveExecutionProvider, versionFromPath, versionLabel } from "@grpomesh/judge";
import { FOLDER_NAME } from "@grpomesh/judge/settings";

/** Longest folder name accepted for --name. */
export const MAX_NAME_CHARS = 100;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface InstallOptions {
  /** The model repository (the judges' --model_repository); must exist. */
  repository: string;
  /** The model's folder in it. */
  name: string;
  /** The version folder: a positive integer, as the judges number versions. */
  version: string;
  /** Expected sha256 of the file (64 hex digits); empty: not checked. */
  sha256: string;
  /** Largest file accepted, from a path or a URL. */
  maxBytes: number;
  /** How long a download may take in all, headers and body. */
  fetchTimeoutMs: number;
  log: (line: string) => void;
}

export interface InstallResult {
  /** `<name>/<version>/model.onnx`: what the judges load, relative to the repository (what `swap` takes). */
  modelPath: string;
  /** The absolute path of the installed file. */
  path: string;
  /** sha256 of the file, hex. */
  sha256: string;
  bytes: number;
  /** false: the same bytes were there already (nothing was written). */
  installed: boolean;
  /** The label a judge serves it under without a requested version (`<grpomesh.version>+sha256:<12 hex>`). */
  label: string;
}

/** A URL with its query and fragment left out: a pre-signed URL's signature must not reach the logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search || u.hash ? "?…" : ""}`;
  } catch {
    return url.slice(0, 200);
  }
}

const isUrl = (source: string) => /^https?:\/\//i.test(source);

/** --name: one folder name of the repository; a ConfigError saying what is allowed otherwise. */
export function checkModelName(name: string): void {
  if (!name) throw new ConfigError("install needs --name=NAME: the model's folder in the repository (e.g. judge)");
  if (name.length > MAX_NAME_CHARS) throw new ConfigError(`name is ${name.length} characters; expected at most ${MAX_NAME_CHARS}`);
  if (!FOLDER_NAME.test(name))
    throw new ConfigError(
      `name ${JSON.stringify(name.slice(0, 60))} is not a folder name; expected letters, digits, '.', '_' and '-', not starting with '.' or '-' (no "/", no hidden or ".." names)`,
    );
}

/** --version: a version folder as the judges read it (1, 2, …); a ConfigError otherwise. */
export function checkVersionFolder(version: string): void {
  if (!version) throw new ConfigError("install needs --version=N: the version folder, a number (1, 2, …; the judges' repository poller serves the highest)");
  // Digits only first (so no "/" or ".." reaches a path), then the judges' own rule for a version folder.
  if (!/^\d{1,9}$/.test(version) || versionFromPath(join("m", version, "model.onnx")) === null)
    throw new ConfigError(
      `version ${JSON.stringify(version.slice(0, 60))} is not a version folder; expected a positive integer without leading zeros (1, 2, …, at most 9 digits), as the judges number a model's versions`,
    );
}

/** --sha256: empty, or 64 hex digits (any case); returned in lower case. */
export function checkSha256(sha256: string): string {
  const hex = sha256.trim().toLowerCase();
  if (hex && !SHA256_HEX.test(hex))
    throw new ConfigError(`sha256 ${JSON.stringify(sha256.slice(0, 80))} is not a sha256; expected 64 hex digits (what sha256sum prints), or leave it empty`);
  return hex;
}

const mb = (bytes: number) => (bytes < 1e6 ? `${bytes} bytes` : `${(bytes / 1e6).toFixed(2)} MB`);

/** The bytes of a URL, at most `maxBytes`, within `timeoutMs`; errors say what failed and what to check. */
export async function fetchModel(url: string, maxBytes: number, timeoutMs: number): Promise<Uint8Array> {
  const shown = redactUrl(url);
  const signal = AbortSignal.timeout(timeoutMs);
  const failed = (err: unknown, stage: string) => {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e?.name === "TimeoutError" || signal.aborted)
      return new Error(`fetching ${shown}: no complete answer within ${timeoutMs} ms (--fetch_timeout_ms) ${stage}; a larger model needs a longer timeout`);
    const why = e?.cause?.code ? `${e.cause.code}${e.cause.message ? ` (${e.cause.message})` : ""}` : (e?.cause?.message ?? e?.message ?? String(err));
    return new Error(`fetching ${shown} failed ${stage}: ${why}; check the address and that this machine may reach it (DNS, proxy, NetworkPolicy egress)`);
  };
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: "follow" });
  } catch (err) {
    throw failed(err, "before an answer");
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`fetching ${shown}: the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}; expected 200 with the model file`);
  }
  const declared = Number(res.headers.get("content-length") ?? NaN);
  const tooBig = (got: string) =>
    new Error(
      `fetching ${shown}: the file is ${got}, more than --max_model_bytes=${maxBytes} (${mb(maxBytes)}); raise --max_model_bytes if the model really is that large`,
    );
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooBig(`${declared} bytes (Content-Length)`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    // Counted as it arrives: a server that sends more than it declared (or declares nothing) is cut off at the cap.
    for await (const chunk of res.body ?? []) {
      total += chunk.byteLength;
      if (total > maxBytes) throw tooBig(`more than ${maxBytes} bytes (still arriving)`);
      chunks.push(chunk);
    }
  } catch (err) {
    if ((err as Error).message.includes("--max_model_bytes")) throw err;
    throw failed(err, `after ${total} bytes`);
  }
  if (Number.isFinite(declared) && total !== declared)
    throw new Error(`fetching ${shown}: got ${total} bytes but the server declared ${declared}; the download was cut short, try again`);
  return Buffer.concat(chunks, total);
}

/** The bytes of SOURCE: an http(s) URL (fetched) or a file (read). */
async function readSource(source: string, o: InstallOptions): Promise<Uint8Array> {
  if (isUrl(source)) {
    const t0 = performance.now();
    const bytes = await fetchModel(source, o.maxBytes, o.fetchTimeoutMs);
    o.log(`fetched ${redactUrl(source)}: ${mb(bytes.length)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return bytes;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source))
    throw new ConfigError(`source ${JSON.stringify(redactUrl(source))} uses a scheme install cannot read; give an https:// or http:// URL, or a file path`);
  let size: number;
  try {
    const s = await stat(source);
    if (!s.isFile()) throw new ConfigError(`source ${source} is not a file; give the .onnx file itself`);
    size = s.size;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new ConfigError(`source ${source} does not exist; give the path of an .onnx file, or an https:// URL`);
    throw new Error(`cannot read source ${source}: ${(err as Error).message}`);
  }
  if (size > o.maxBytes)
    throw new Error(`source ${source} is ${size} bytes, more than --max_model_bytes=${o.maxBytes}; raise it if the model really is that large`);
  const bytes = await readFile(source);
  o.log(`read ${source}: ${mb(bytes.length)}`);
  return bytes;
}

const sha256Of = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * Loads `path` exactly as a judge does (the judge contract, an onnxruntime session on the CPU, a
 * warm-up score) and frees it; throws with the judge's reason, naming `shown` instead of `path`.
 * Returns one line describing the model, and its grpomesh.version if it declares one.
 */
async function checkJudge(path: string, shown: string): Promise<{ declared: string | undefined; describe: string }> {
  let model;
  try {
    model = await loadJudgeModel(path, { provider: resolveExecutionProvider("cpu"), threads: 1, sessions: 1 });
  } catch (err) {
    throw new Error(`${(err as Error).message.replaceAll(path, shown)}; nothing was installed`);
  }
  const { info } = model;
  const describe =
    `a judge${info.name ? ` named ${JSON.stringify(info.name)}` : ""}${info.version ? `, version ${info.version}` : ""}: ${info.inputDtype} tokens ` +
    `[batch, ${info.seqLen ?? "any length"}], vocabulary of ${info.vocab.length}; loaded and scored a warm-up sequence in ${model.loadMs.toFixed(0)} ms`;
  model.release();
  await model.released;
  return { declared: info.version, describe };
}

/** Creates `parts` under `root` one folder at a time; returns those it created (deepest last). */
async function makeFolders(root: string, parts: string[]): Promise<string[]> {
  const created: string[] = [];
  let dir = root;
  for (const part of parts) {
    dir = join(dir, part);
    try {
      await mkdir(dir);
      created.push(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return created;
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const file = await open(path, "wx", 0o644);
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** The folder's entry for a new file made durable too (where the filesystem allows it). */
async function syncFolder(dir: string): Promise<void> {
  try {
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some filesystems (and platforms) refuse fsync on a directory; the rename is still atomic.
  }
}

function conflict(path: string, theirs: string, ours: string, version: string): Error {
  return new Error(
    `${path} exists with other bytes (sha256 ${theirs.slice(0, 12)}…, not ${ours.slice(0, 12)}…); a version is never replaced, since judges may be serving it. ` +
      `Install under a new version (--version=${Number(version) + 1}), or remove that file yourself if no judge serves it`,
  );
}

/**
 * Places `tmp` at `path` unless something is there: a hard link fails on an existing name, so two
 * installers racing cannot overwrite each other. Returns false when `path` already holds the same bytes.
 */
async function placeNew(tmp: string, path: string, sha256: string, version: string): Promise<boolean> {
  const same = async () => {
    const theirs = sha256Of(await readFile(path));
    if (theirs !== sha256) throw conflict(path, theirs, sha256, version);
    return false;
  };
  try {
    await link(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return same();
    // Filesystems without hard links (some network and FUSE ones): check, then rename. The rename
    // is still atomic; only a second installer in the gap between the two could be overwritten.
    if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK"].includes(code ?? "")) throw err;
    if (await readIfExists(path)) return same();
    await rename(tmp, path);
    return true;
  }
  return true;
}

/** Installs SOURCE as `<repository>/<name>/<version>/model.onnx` (see the header). */
export async function installJudgeModel(source: string, o: InstallOptions): Promise<InstallResult> {
  if (!source) throw new ConfigError("install takes one source: install <model.onnx | https://…/model.onnx> --repository=DIR --name=NAME --version=N");
  checkModelName(o.name);
  checkVersionFolder(o.version);
  const expected = checkSha256(o.sha256);
  if (!o.repository) throw new ConfigError("install needs --repository=DIR: the judges' model repository (their --model_repository, e.g. /models/judges)");
  const repository = resolve(o.repository);
  const isDir = await stat(repository).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir)
    throw new ConfigError(`repository ${repository} is not a directory; give the judges' model repository (their --model_repository), which must exist`);

  const shown = isUrl(source) ? redactUrl(source) : source;
  const bytes = await readSource(source, o);
  const sha256 = sha256Of(bytes);
  if (expected && sha256 !== expected)
    throw new Error(
      `${shown} has sha256 ${sha256}; expected ${expected} (--sha256). Nothing was installed: check that the source is the file you meant, or the checksum`,
    );
  o.log(`sha256 ${sha256}${expected ? " (as --sha256 expects)" : ""}`);

  const modelPath = `${o.name}/${o.version}/model.onnx`;
  const dir = join(repository, o.name, o.version);
  const path = join(dir, "model.onnx");
  // The label a judge serves this file under at `path` when swap gives no version (the judges' rule).
  const labelOf = (declared: string | undefined) => versionLabel(`sha256:${sha256}`, undefined, declared || versionFromPath(path), path);
  const result = (installed: boolean, declared: string | undefined): InstallResult => ({
    modelPath,
    path,
    sha256,
    bytes: bytes.length,
    installed,
    label: labelOf(declared),
  });

  const existing = await readIfExists(path);
  if (existing) {
    const theirs = sha256Of(existing);
    if (theirs !== sha256) throw conflict(path, theirs, sha256, o.version);
    const { declared, describe } = await checkJudge(path, path);
    o.log(`checked ${path}: ${describe}`);
    o.log(`already installed: ${path} holds these bytes (nothing was written)`);
    return result(false, declared);
  }

  const created = await makeFolders(repository, [o.name, o.version]);
  // Hidden, in the same folder: the link into place stays on one filesystem, and the judges'
  // repository poller looks only at model.onnx.
  const tmp = join(dir, `.model.onnx.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let placed = false;
  try {
    await writeDurably(tmp, bytes);
    const { declared, describe } = await checkJudge(tmp, shown);
    o.log(`checked ${shown}: ${describe}`);
    const installed = await placeNew(tmp, path, sha256, o.version);
    placed = true;
    await rm(tmp, { force: true });
    await syncFolder(dir);
    o.log(
      installed
        ? `installed ${path} (served as ${labelOf(declared)} unless swap gives a version)`
        : `already installed: ${path} holds these bytes (nothing was written)`,
    );
    return result(installed, declared);
  } finally {
    if (!placed) {
      await rm(tmp, { force: true });
      // Folders this call made, if they are still empty (a racing installer's file keeps them).
      for (const d of created.reverse()) await rmdir(d).catch(() => {});
    }
  }
}
