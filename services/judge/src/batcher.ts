// The queue in front of one model's sessions. With `merge`, concurrent Score requests are
// concatenated into one onnxruntime run of up to `maxBatch` rows (a micro-batcher: requests that
// arrive while every session is busy form the next run); without it each request is its own run.
// At most `concurrentRuns` runs (one per session) are in flight.
import type { TokenIds } from "./loaded-model.ts";

export type RunBatch = (ids: TokenIds, rows: number, seqLen: number) => Promise<Float32Array>;

export interface BatchResult {
  scores: Float32Array;
  /** Seconds from submit to the start of the run that scored this request. */
  queueSeconds: number;
  /** Seconds the run took (shared by every request in it). */
  computeSeconds: number;
  /** Rows of the run this request was part of. */
  batchRows: number;
}

export interface MicroBatcherOptions {
  maxBatch: number;
  /** Concatenate queued requests into one run (true) or run each alone (false). Default true. */
  merge?: boolean;
  /** Runs in flight at once (the model's session count). Default 1. */
  concurrentRuns?: number;
  /** How long the oldest request may wait for company before a run starts; 0 runs at once when idle. */
  windowMs: number;
  /** Called once per run (for metrics). */
  onRun?: (rows: number, seconds: number) => void;
}

interface Job {
  ids: TokenIds;
  rows: number;
  seqLen: number;
  submittedAt: number;
  cancelled?: () => boolean;
  resolve: (r: BatchResult) => void;
  reject: (e: unknown) => void;
}

export class CancelledError extends Error {
  override name = "CancelledError";
  /** CANCELLED, for libs/rpc's statusOf. */
  readonly grpcCode = 1;
}

export class MicroBatcher {
  private readonly queue: Job[] = [];
  private queuedRows = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly runBatch: RunBatch,
    private readonly opts: MicroBatcherOptions,
  ) {
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) throw new Error(`maxBatch is ${opts.maxBatch}; expected a positive integer`);
    const runs = opts.concurrentRuns ?? 1;
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`concurrentRuns is ${runs}; expected a positive integer`);
  }

  /** Rows waiting for a run (not counting the run in progress). */
  get pendingRows(): number {
    return this.queuedRows;
  }

  /** Scores `rows` sequences; `ids` must not change until the promise settles. */
  submit(ids: TokenIds, rows: number, seqLen: number, cancelled?: () => boolean): Promise<BatchResult> {
    if (rows < 1 || rows > this.opts.maxBatch) throw new Error(`a job of ${rows} rows does not fit a batch of at most ${this.opts.maxBatch}`);
    if (ids.length !== rows * seqLen) throw new Error(`job has ${ids.length} ids; expected rows × seqLen = ${rows * seqLen}`);
    return new Promise<BatchResult>((resolve, reject) => {
      this.queue.push({ ids, rows, seqLen, submittedAt: performance.now(), cancelled, resolve, reject });
      this.queuedRows += rows;
      if (this.timer && this.queuedRows >= this.opts.maxBatch) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      this.pump();
    });
  }

  private pump(): void {
    if (this.running >= (this.opts.concurrentRuns ?? 1) || this.timer || this.queue.length === 0) return;
    const waitMs = this.opts.windowMs - (performance.now() - this.queue[0]!.submittedAt);
    if (waitMs > 0 && this.queuedRows < this.opts.maxBatch) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, waitMs);
      return;
    }
    const jobs = this.take();
    if (jobs.length === 0) return this.pump();
    this.running++;
    void this.execute(jobs).finally(() => {
      this.running--;
      this.pump();
    });
    this.pump();
  }

  /**
   * Takes jobs in arrival order that share the oldest job's seqLen and fit `maxBatch`; drops
   * cancelled ones. With several idle sessions the queue is shared out evenly among them, so one
   * session does not get one long run while the others idle.
   */
  private take(): Job[] {
    const jobs: Job[] = [];
    let rows = 0;
    const seqLen = this.queue[0]!.seqLen;
    const idle = (this.opts.concurrentRuns ?? 1) - this.running;
    const share = Math.ceil(this.queuedRows / Math.max(1, idle));
    for (let i = 0; i < this.queue.length;) {
      const job = this.queue[i]!;
      if (job.cancelled?.()) {
        this.queue.splice(i, 1);
        this.queuedRows -= job.rows;
        job.reject(new CancelledError("request was cancelled (deadline passed or client gone) before it was scored"));
        continue;
      }
      if (jobs.length > 0 && (this.opts.merge === false || rows >= share)) break;
      if (job.seqLen !== seqLen || rows + job.rows > this.opts.maxBatch) {
        // Keep order within a seqLen: a job that does not fit closes this batch.
        if (job.seqLen === seqLen) break;
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.queuedRows -= job.rows;
      jobs.push(job);
      rows += job.rows;
    }
    return jobs;
  }

  private async execute(jobs: Job[]): Promise<void> {
    const rows = jobs.reduce((n, j) => n + j.rows, 0);
    const seqLen = jobs[0]!.seqLen;
    const started = performance.now();
    let scores: Float32Array;
    try {
      scores = await this.runBatch(concat(jobs.map((j) => j.ids)), rows, seqLen);
    } catch (err) {
      for (const job of jobs) job.reject(err);
      return;
    }
    const computeSeconds = (performance.now() - started) / 1000;
    this.opts.onRun?.(rows, computeSeconds);
    let offset = 0;
    for (const job of jobs) {
      job.resolve({
        scores: jobs.length === 1 ? scores : scores.slice(offset, offset + job.rows),
        queueSeconds: (started - job.submittedAt) / 1000,
        computeSeconds,
        batchRows: rows,
      });
      offset += job.rows;
    }
  }
}

function concat(parts: TokenIds[]): TokenIds {
  if (parts.length === 1) return parts[0]!;
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = parts[0] instanceof BigInt64Array ? new BigInt64Array(total) : new Int32Array(total);
  let offset = 0;
  for (const p of parts) {
    (out as Int32Array).set(p as Int32Array, offset);
    offset += p.length;
  }
  return out;
}
