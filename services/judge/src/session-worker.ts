// One onnxruntime session in a worker thread. onnxruntime-node's `session.run` is synchronous
// on the calling thread (its promise only defers the call with setImmediate), so a run on the
// main thread would stall gRPC, health checks and /metrics for its whole duration.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import type { RunReply, RunRequest, WorkerInit, WorkerReady } from "./session-pool.ts";

const init = workerData as WorkerInit;
const port = parentPort!;

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(init.bytes, {
      executionProviders: init.executionProviders,
      intraOpNumThreads: init.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      logSeverityLevel: 3,
    });
  } catch (err) {
    // The pool terminates this worker once it has read why.
    port.postMessage({ type: "failed", message: (err as Error).message } satisfies WorkerReady);
    return;
  }

  port.postMessage({
    type: "ready",
    io: {
      inputNames: [...session.inputNames],
      outputNames: [...session.outputNames],
      inputMetadata: structuredClone([...session.inputMetadata]),
      outputMetadata: structuredClone([...session.outputMetadata]),
    },
  } satisfies WorkerReady);

  port.on("message", (req: RunRequest) => {
    const reply = (msg: RunReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
    runInPieces(session, req).then(
      ({ scores, dims }) => reply({ id: req.id, scores, dims }, [scores.buffer as ArrayBuffer]),
      (err: unknown) => reply({ id: req.id, error: (err as Error).message }),
    );
  });
}

/**
 * Runs a request as runs of at most `init.runTokens` tokens (whole rows), concatenating the scores.
 * Small runs keep a layer's activations in cache: ≈1.5× faster than one big run on CPU.
 */
async function runInPieces(session: ort.InferenceSession, req: RunRequest): Promise<{ scores: Float32Array; dims: number[] }> {
  const rowsPerRun = init.runTokens > 0 ? Math.max(1, Math.floor(init.runTokens / req.seqLen)) : req.rows;
  const pieces: Float32Array[] = [];
  let dims: number[] = [];
  let leading = 0;
  for (let start = 0; start < req.rows; start += rowsPerRun) {
    const rows = Math.min(rowsPerRun, req.rows - start);
    const ids = req.ids.subarray(start * req.seqLen, (start + rows) * req.seqLen);
    const input = new ort.Tensor(ids instanceof BigInt64Array ? "int64" : "int32", ids, [rows, req.seqLen]);
    // run() returns a promise but computes synchronously on this thread; nothing else runs here.
    const out = await session.run({ [req.inputName]: input });
    const scores = out[req.outputName];
    if (!scores || scores.type !== "float32") throw new Error(`output "${req.outputName}" is ${scores ? scores.type : "missing"}; expected float32 scores`);
    pieces.push(scores.data as Float32Array);
    dims = [...scores.dims];
    leading += dims[0] ?? 0;
  }
  // A copy we own: onnxruntime's output may sit in memory that cannot be transferred.
  const scores = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of pieces) {
    scores.set(p, offset);
    offset += p.length;
  }
  // The pieces' leading dims add up, so a model that answers the wrong shape is still caught.
  if (dims.length > 0) dims[0] = leading;
  return { scores, dims };
}

await main();
