// Triton's "poll" mode: every poll lists `<repo>/<name>/<n>/model.onnx` and serves the highest
// complete version. A file counts as complete once its size and mtime held across two consecutive
// polls; it is then loaded like LoadModel (contract, warm-up, atomic swap). A refused file is
// logged once and skipped until it changes, while the model before it keeps serving.
import { relative } from "node:path";
import { scanRepository, type RepositoryVersion } from "./repository.ts";

export interface RepositoryWatcherOptions {
  /** Real path of the repository. */
  root: string;
  /** Model folder to follow; null: the only one present. */
  modelName: string | null;
  pollMs: number;
  /** Loads a file and swaps it in (the server's serialized LoadModel); rejects when the model is refused. */
  load(path: string): Promise<{ version: string; previousVersion: string | null; loadMs: number }>;
  log(line: string): void;
  /** The model already served from the repository at start (--model), so the first polls do not load it again. */
  startPath?: string | null;
}

export class RepositoryWatcher {
  /** Signatures seen by the previous poll, by path. */
  private seen = new Map<string, string>();
  /** Signature at which a path was refused; skipped until its file changes. */
  private refused = new Map<string, string>();
  /** What this watcher loaded last (path and signature), or the start model. */
  private installed: { path: string; signature: string | null } | null;
  /** The problem logged last, so a standing problem is reported once, not every poll. */
  private standing: string | null = null;
  private polling: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: RepositoryWatcherOptions) {
    if (!(opts.pollMs > 0)) throw new Error(`repository poll interval is ${opts.pollMs} ms; expected a positive number`);
    this.installed = opts.startPath ? { path: opts.startPath, signature: null } : null;
  }

  /** Polls now and then every `pollMs` after each poll ends (polls never overlap). */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.poll().finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.opts.pollMs);
        this.timer.unref();
      });
    };
    tick();
  }

  /** One poll, after any poll in progress. Never rejects: problems are logged. */
  poll(): Promise<void> {
    const next = this.polling
      .then(() => (this.stopped ? undefined : this.pollOnce()))
      .catch((err: unknown) => {
        this.problem(`polling ${this.opts.root} failed: ${err instanceof Error ? err.message : String(err)}`);
      });
    this.polling = next;
    return next;
  }

  /** Stops polling; resolves once a poll in progress (and the load it started) is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  private async pollOnce(): Promise<void> {
    const scan = await scanRepository(this.opts.root, this.opts.modelName);
    if (scan.problem) return this.problem(`${scan.problem}; the current model keeps serving`);
    const previous = this.seen;
    this.seen = new Map(scan.versions.map((v) => [v.path, v.signature]));
    for (const path of this.refused.keys()) if (!this.seen.has(path)) this.refused.delete(path);
    // The start model's file as it was at the first poll: it counts as installed only if unchanged since.
    if (this.installed && this.installed.signature === null) this.installed.signature = this.seen.get(this.installed.path) ?? "";

    const complete = (v: RepositoryVersion) => previous.get(v.path) === v.signature && this.refused.get(v.path) !== v.signature;
    const target = scan.versions.find(complete);
    this.problem(scan.versions.length === 0 ? `model repository ${this.opts.root} has no <name>/<version>/model.onnx yet; waiting` : null);
    if (!target) return;
    if (this.installed?.path === target.path && this.installed.signature === target.signature) return;

    const shown = relative(this.opts.root, target.path);
    try {
      const r = await this.opts.load(target.path);
      this.installed = { path: target.path, signature: target.signature };
      this.opts.log(`repository: serving ${shown} version=${r.version} previous=${r.previousVersion ?? "-"} load_ms=${Math.round(r.loadMs)}`);
    } catch (err) {
      if (this.stopped) return;
      this.refused.set(target.path, target.signature);
      this.opts.log(`repository: ${shown} refused, the current model keeps serving: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Logs a problem when it differs from the one standing; null clears it. */
  private problem(line: string | null): void {
    if (line !== null && line !== this.standing) this.opts.log(`repository: ${line}`);
    this.standing = line;
  }
}
