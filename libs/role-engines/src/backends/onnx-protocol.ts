// Messages between OnnxWorkerBackend (main thread) and its worker (onnx-worker.ts). onnxruntime-node
// computes on the calling thread, so a training step on the main thread would stall gRPC, health
// checks and /metrics for seconds; the worker owns the OnnxTrainer and the main thread only waits.
import type { ModelConfig } from "@grpomesh/model/format";
import type { Placement } from "@grpomesh/onnx-export/placement";

export interface OnnxWorkerInit {
  config: ModelConfig;
  threads?: number;
  executionProviders: string[];
  /** How the provider is named in the description ("webgpu on NVIDIA H200 (…)"); default the first provider. */
  providerLabel?: string;
  /** Weights that never change (the reference): baked into the forward session, which runs faster. */
  frozen?: boolean;
  /** onnxruntime's spin-waiting threads (default on); see OnnxTrainerOptions.spinning. */
  spinning?: boolean;
}

export type OnnxWorkerReady =
  | {
      type: "ready";
      description: string;
      parameterCount: number;
      /** On a GPU provider: each graph's node placement (empty on the CPU), or why it could not be read. */
      placements: Record<string, Placement>;
      placementError?: string;
    }
  | { type: "failed"; message: string };

export type OnnxCall =
  | { op: "logits"; args: [ids: Int32Array, batch: number, seqLen: number] }
  | { op: "lossAndGrads"; args: [ids: Int32Array, inputs: unknown, options: unknown, temperature: number] }
  | { op: "applyAdamW"; args: [grads: Map<string, Float32Array>, options: unknown] }
  | { op: "getWeights"; args: [] }
  | { op: "setWeights"; args: [weights: Map<string, Float32Array>] }
  | { op: "exportOptimizerState"; args: [] }
  | { op: "importOptimizerState"; args: [state: unknown] }
  /** Releases every onnxruntime session (before the worker is terminated). */
  | { op: "release"; args: [] };

export type OnnxRequest = OnnxCall & { id: number };
export type OnnxReply = { id: number; result: unknown } | { id: number; error: string };

/** A view that owns exactly its bytes (posting a subarray would copy its whole buffer). */
export function compact<T extends ArrayBufferView>(view: T): T {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) return view;
  return (view as unknown as { slice(): T }).slice();
}
