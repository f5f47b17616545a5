// A model's onnxruntime sessions, one per worker thread (session-worker.ts), so runs never block
// the event loop that serves gRPC, health and /metrics. With more than one session, runs on
// different sessions proceed in parallel (each with its own intra-op threads).
import { Worker } from "node:worker_threads";
import type { InferenceSession } from "onnxruntime-node";
import type { SessionIo } from "@grpomesh/onnx-export/contract";
import { onGpuLane } from "@grpomesh/onnx-export/gpu-lane";
import { workerBootstrap } from "@grpomesh/onnx-export/worker-bootstrap";
import type { TokenIds } from "./loaded-model.ts";

export interface WorkerInit {
  bytes: Uint8Array;
  executionProviders: InferenceSession.ExecutionProviderConfig[];
  threads: number;
  /** Most tokens per run; 0: whole requests. */
  runTokens: number;
}

export type WorkerReady = { type: "ready"; io: SessionIo } | { type: "failed"; message: string };

export interface RunRequest {
  id: number;
  ids: TokenIds;
  rows: number;
  seqLen: number;
  inputName: string;
  outputName: string;
}

export type RunReply = { id: number; scores: Float32Array; dims: number[] } | { id: number; error: string };

/** Asks a worker to release its session before it is terminated; it answers `{ released: true }`. */
export interface ReleaseRequest {
  release: true;
}

/** How long release() waits for a worker to release its session before terminating it anyway. */
const RELEASE_WAIT_MS = 10_000;

const providerName = (providers: InferenceSession.ExecutionProviderConfig[]): string => {
  const first = providers[0];
  return typeof first === "string" ? first : (first?.name ?? "cpu");
};

export interface SessionPoolOptions {
  /** Sessions (worker threads), each holding its own copy of the weights. */
  sessions: number;
  /** Intra-op threads per session; 0 lets onnxruntime choose. */
  threads: number;
  executionProviders: InferenceSession.ExecutionProviderConfig[];
  /** Most tokens (rows × seqLen) per onnxruntime run; bigger requests run in pieces. 0: whole requests. */
  runTokens?: number;
}

export class SessionError extends Error {
  override name = "SessionError";
}

// Workers load this module by absolute URL (workerBootstrap: through tsx from sources, as is when compiled).
const BOOTSTRAP = workerBootstrap(new URL("./session-worker.ts", import.meta.url).href);

interface Slot {
  worker: Worker;
  busy: boolean;
  pending: Map<number, { resolve: (r: { scores: Float32Array; dims: number[] }) => void; reject: (e: Error) => void }>;
  dead: string | null;
}

export class SessionPool {
  private readonly slots: Slot[];
  private readonly waiting: Array<() => void> = [];
  private nextId = 0;
  private closed = false;

  private constructor(
    slots: Slot[],
    readonly io: SessionIo,
    /** The execution provider: a process's WebGPU work takes turns (onGpuLane). */
    private readonly provider: string,
  ) {
    this.slots = slots;
  }

  /** Starts the workers and creates a session in each; rejects with onnxruntime's reason if any cannot. */
  static async create(bytes: Uint8Array, opts: SessionPoolOptions): Promise<SessionPool> {
    if (!Number.isInteger(opts.sessions) || opts.sessions < 1) throw new SessionError(`sessions is ${opts.sessions}; expected a positive integer`);
    const provider = providerName(opts.executionProviders);
    const started = await Promise.allSettled(Array.from({ length: opts.sessions }, () => onGpuLane(provider, () => startWorker(bytes, opts))));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) {
      await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.slot.worker.terminate() : undefined)));
      throw failed.reason;
    }
    const ok = started as Array<PromiseFulfilledResult<{ slot: Slot; io: SessionIo }>>;
    const pool = new SessionPool(
      ok.map((s) => s.value.slot),
      ok[0]!.value.io,
      provider,
    );
    for (const slot of pool.slots) pool.watch(slot);
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Sessions running now. */
  get busy(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  /** Runs on an idle session (waiting for one if all are busy); resolves with the float32 output and its dims. */
  async run(ids: TokenIds, rows: number, seqLen: number, inputName: string, outputName: string): Promise<{ scores: Float32Array; dims: number[] }> {
    if (this.closed) throw new SessionError("the model's sessions were released; acquire the current model from the slot");
    let slot = this.slots.find((s) => !s.busy && !s.dead);
    while (!slot) {
      const dead = this.slots.find((s) => s.dead);
      if (dead && this.slots.every((s) => s.dead))
        throw new SessionError(`every session worker of this model has stopped (${dead.dead}); load the model again`);
      await new Promise<void>((r) => this.waiting.push(r));
      slot = this.slots.find((s) => !s.busy && !s.dead);
    }
    slot.busy = true;
    const id = this.nextId++;
    // Transfer the ids when they own their whole buffer (they do when they come from the edge).
    const own = ids.byteOffset === 0 && ids.byteLength === ids.buffer.byteLength ? ids : ids.slice();
    try {
      return await onGpuLane(this.provider, () => {
        if (slot.dead) return Promise.reject(new SessionError(`session worker stopped (${slot.dead})`));
        return new Promise<{ scores: Float32Array; dims: number[] }>((resolve, reject) => {
          slot.pending.set(id, { resolve, reject });
          const req: RunRequest = { id, ids: own, rows, seqLen, inputName, outputName };
          slot.worker.postMessage(req, [own.buffer as ArrayBuffer]);
        });
      });
    } finally {
      slot.busy = false;
      this.waiting.shift()?.();
    }
  }

  /**
   * Releases every session, then stops the workers. The sessions are released in their workers
   * (on the GPU lane) first: a worker's teardown would free them while another thread may be
   * using the same WebGPU device.
   */
  async release(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await onGpuLane(this.provider, () => Promise.all(this.slots.map((s) => releaseSession(s))));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private watch(slot: Slot): void {
    slot.worker.on("message", (reply: RunReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if ("error" in reply) p.reject(new SessionError(reply.error));
      else p.resolve({ scores: reply.scores, dims: reply.dims });
    });
    const die = (why: string) => {
      if (slot.dead) return;
      slot.dead = why;
      for (const p of slot.pending.values()) p.reject(new SessionError(`session worker stopped during a run (${why})`));
      slot.pending.clear();
      for (const wake of this.waiting.splice(0)) wake();
    };
    slot.worker.on("error", (err) => die(err.message));
    slot.worker.on("exit", (code) => die(this.closed ? "released" : `exit code ${code}`));
  }
}

/** Asks the worker to release its session; resolves when it has, it died, or RELEASE_WAIT_MS passed. */
function releaseSession(slot: Slot): Promise<void> {
  if (slot.dead) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      slot.worker.off("message", onMessage);
      slot.worker.off("exit", done);
      resolve();
    };
    const onMessage = (msg: unknown) => {
      if (msg && typeof msg === "object" && "released" in msg) done();
    };
    const timer = setTimeout(done, RELEASE_WAIT_MS);
    slot.worker.on("message", onMessage);
    slot.worker.once("exit", done);
    slot.worker.postMessage({ release: true } satisfies ReleaseRequest);
  });
}

function startWorker(bytes: Uint8Array, opts: SessionPoolOptions): Promise<{ slot: Slot; io: SessionIo }> {
  const init: WorkerInit = { bytes, executionProviders: opts.executionProviders, threads: opts.threads, runTokens: opts.runTokens ?? 0 };
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: init });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      void worker.terminate();
      reject(new SessionError(why));
    };
    worker.once("message", (msg: WorkerReady) => {
      worker.removeAllListeners("error");
      worker.removeAllListeners("exit");
      if (msg.type === "ready") resolve({ slot: { worker, busy: false, pending: new Map(), dead: null }, io: msg.io });
      else fail(msg.message);
    });
    worker.once("error", (err) => fail(`session worker failed to start: ${err.message}`));
    worker.once("exit", (code) => fail(`session worker exited with code ${code} before its session was ready`));
  });
}
