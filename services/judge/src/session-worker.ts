// One onnxruntime session in a worker thread. onnxruntime-node's `session.run` is synchronous
// on the calling thread (its promise only defers the call with setImmediate), so a run on the
// main thread would stall gRPC, health checks and /metrics for its whole duration.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { runInPieces } from "@grpomesh/onnx-export/pieces";
import type { ReleaseRequest, RunReply, RunRequest, WorkerInit, WorkerReady } from "./session-pool.ts";

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

  port.on("message", (req: RunRequest | ReleaseRequest) => {
    if ("release" in req) {
      void session.release().finally(() => port.postMessage({ released: true }));
      return;
    }
    const reply = (msg: RunReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
    runRequest(session, req).then(
      ({ scores, dims }) => reply({ id: req.id, scores, dims }, [scores.buffer as ArrayBuffer]),
      (err: unknown) => reply({ id: req.id, error: (err as Error).message }),
    );
  });
}

/** The request as runs of at most `init.runTokens` tokens (whole rows); see @grpomesh/onnx-export/pieces. */
async function runRequest(session: ort.InferenceSession, req: RunRequest): Promise<{ scores: Float32Array; dims: number[] }> {
  const { data, dims } = await runInPieces(req.rows, req.seqLen, init.runTokens, async (start, rows) => {
    const ids = req.ids.subarray(start * req.seqLen, (start + rows) * req.seqLen);
    const input = new ort.Tensor(ids instanceof BigInt64Array ? "int64" : "int32", ids, [rows, req.seqLen]);
    // run() returns a promise but computes synchronously on this thread; nothing else runs here.
    const out = await session.run({ [req.inputName]: input });
    const scores = out[req.outputName];
    if (!scores || scores.type !== "float32") throw new Error(`output "${req.outputName}" is ${scores ? scores.type : "missing"}; expected float32 scores`);
    return { data: scores.data as Float32Array, dims: scores.dims };
  });
  // runInPieces returns a copy we own: onnxruntime's output may sit in memory that cannot be transferred.
  return { scores: data, dims };
}

await main();
