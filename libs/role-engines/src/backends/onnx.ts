// The onnxruntime training engine behind the backend seam: an OnnxTrainer (libs/onnx-trainer) in a
// worker thread, so the event loop keeps serving gRPC and health checks while a step computes.
import { Worker } from "node:worker_threads";
import type { AdamWSettings, AdamWState, ModelConfig, Weights } from "@grpomesh/model/format";
import type { LossInputs, LossOptions, LossValues } from "@grpomesh/grpo/loss";
import { onGpuLane } from "@grpomesh/onnx-export/gpu-lane";
import { workerBootstrap } from "@grpomesh/onnx-export/worker-bootstrap";
import { describePlacements, type Placement } from "@grpomesh/onnx-export/placement";
import { failedPrecondition } from "../errors.ts";
import { compact, type OnnxCall, type OnnxReply, type OnnxWorkerInit, type OnnxWorkerReady } from "./onnx-protocol.ts";
import type { TrainingBackend } from "./types.ts";

// Workers load this module by absolute URL (workerBootstrap: through tsx from sources, as is when compiled).
const BOOTSTRAP = workerBootstrap(new URL("./onnx-worker.ts", import.meta.url).href);

export class OnnxWorkerBackend implements TrainingBackend {
  readonly engine = "onnx" as const;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private dead: string | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly description: string,
    private readonly parameters: number,
    /** Which provider runs each graph's nodes, on GPU providers (empty on the CPU). */
    readonly placements: Readonly<Record<string, Placement>>,
    private readonly placementError: string | undefined,
    /** The execution provider (WebGPU work of a process takes turns: onGpuLane). */
    private readonly provider: string,
  ) {
    worker.on("message", (reply: OnnxReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if ("error" in reply) p.reject(new Error(reply.error));
      else p.resolve(reply.result);
    });
    const die = (why: string) => {
      if (this.dead) return;
      this.dead = why;
      for (const p of this.pending.values()) p.reject(failedPrecondition(`the onnxruntime engine's worker stopped (${why})`));
      this.pending.clear();
    };
    worker.on("error", (err) => die(err.message));
    worker.on("exit", (code) => die(`exit code ${code}`));
  }

  /** Starts the worker and its trainer (placeholder weights until setWeights). */
  static start(
    config: ModelConfig,
    options: { threads?: number; executionProviders: string[]; providerLabel?: string; frozen?: boolean; spinning?: boolean },
  ): Promise<OnnxWorkerBackend> {
    const init: OnnxWorkerInit = {
      config,
      threads: options.threads,
      executionProviders: options.executionProviders,
      providerLabel: options.providerLabel,
      frozen: options.frozen,
      spinning: options.spinning,
    };
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: init });
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        void worker.terminate();
        reject(new Error(why));
      };
      worker.once("message", (msg: OnnxWorkerReady) => {
        worker.removeAllListeners("error");
        worker.removeAllListeners("exit");
        if (msg.type === "ready")
          resolve(
            new OnnxWorkerBackend(worker, msg.description, msg.parameterCount, msg.placements, msg.placementError, options.executionProviders[0] ?? "cpu"),
          );
        else fail(msg.message);
      });
      worker.once("error", (err) => fail(`worker failed to start: ${err.message}`));
      worker.once("exit", (code) => fail(`worker exited with code ${code} before its trainer was ready`));
    });
  }

  /** The placements in one line for start lines ("" on the CPU). */
  get placement(): string {
    if (this.placementError) return `unknown (${this.placementError})`;
    return describePlacements(this.placements, this.provider);
  }

  private call<T>(call: OnnxCall): Promise<T> {
    if (this.dead) return Promise.reject(failedPrecondition(`the onnxruntime engine's worker stopped (${this.dead}); restart the policy`));
    return onGpuLane(this.provider, () => {
      if (this.dead) return Promise.reject(failedPrecondition(`the onnxruntime engine's worker stopped (${this.dead}); restart the policy`));
      const id = this.nextId++;
      return new Promise<T>((resolve, reject) => {
        this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        this.worker.postMessage({ id, ...call });
      });
    });
  }

  logits(ids: Int32Array, batch: number, seqLen: number): Promise<Float32Array> {
    return this.call({ op: "logits", args: [compact(ids), batch, seqLen] });
  }

  lossAndGrads(
    ids: Int32Array,
    inputs: LossInputs,
    options: LossOptions,
    temperature: number,
  ): Promise<{ values: LossValues; grads: Map<string, Float32Array> }> {
    // Micro-batches are views into the whole request: send only their own bytes.
    const own = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, ArrayBuffer.isView(v) ? compact(v) : v]));
    return this.call({ op: "lossAndGrads", args: [compact(ids), own, options, temperature] });
  }

  applyAdamW(grads: Map<string, Float32Array>, options: AdamWSettings): Promise<void> {
    return this.call({ op: "applyAdamW", args: [grads, options] });
  }

  getWeights(): Promise<Weights> {
    return this.call({ op: "getWeights", args: [] });
  }

  setWeights(weights: Weights): Promise<void> {
    return this.call({ op: "setWeights", args: [weights] });
  }

  exportOptimizerState(): Promise<AdamWState | null> {
    return this.call({ op: "exportOptimizerState", args: [] });
  }

  importOptimizerState(state: AdamWState | null): Promise<void> {
    return this.call({ op: "importOptimizerState", args: [state] });
  }

  parameterCount(): number {
    return this.parameters;
  }

  async dispose(): Promise<void> {
    if (this.dead) return;
    // Sessions are released in the worker, on the lane, before it goes: a terminated worker would
    // free them during its teardown, while another thread may be using the device.
    await this.call({ op: "release", args: [] }).catch(() => undefined);
    this.dead = "released";
    await this.worker.terminate();
  }
}
