// The seam between the engines (policy, reference) and whatever computes with the weights. The
// policy's bookkeeping — exactly-once updates, validation, checkpoints, clipping, the schedule —
// is engine-independent; a backend only runs forwards, gradients and the AdamW arithmetic.
import type { AdamWSettings, AdamWState, Weights } from "@grpomesh/model/format";
import type { LossInputs, LossOptions, LossValues } from "@grpomesh/grpo/loss";
import type { Placement } from "@grpomesh/onnx-export/placement";

/** The training engines there are: tfjs (wasm, cpu, node, node-gpu) and onnxruntime-node training graphs. */
export const ENGINE_NAMES = ["onnx", "tfjs"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
/** What a user asks for: an engine, or "auto" (the fastest installed; see backends/choose.ts). */
export type EngineChoice = EngineName | "auto";
export const ENGINE_CHOICES = ["auto", ...ENGINE_NAMES] as const;

/** Forward passes over one set of weights. */
export interface ForwardBackend {
  /** What runs, e.g. "onnxruntime cpu, 2 threads" or "tfjs wasm". */
  readonly description: string;
  readonly engine: EngineName;
  /** On a GPU execution provider: which graph nodes onnxruntime left on the CPU (onnx engine only), in one line. */
  readonly placement?: string;
  /** The same per graph, as counts and nodes. */
  readonly placements?: Readonly<Record<string, Placement>>;
  /** Logits [B·T·V] for flat ids [B·T], in one forward pass. */
  logits(ids: Int32Array, batch: number, seqLen: number): Promise<Float32Array>;
  /** A copy of every weight, keyed by docs/model-format.md names. */
  getWeights(): Promise<Weights>;
  parameterCount(): number;
  dispose(): Promise<void>;
}

/** A forward backend that also trains: GRPO-loss gradients and AdamW. */
export interface TrainingBackend extends ForwardBackend {
  /**
   * The GRPO loss of one micro-batch (ids [b·T], completions etc. in `inputs`) on
   * log-softmax(logits/τ) with the model's special tokens banned; its values and the gradient of
   * every weight. Nothing changes.
   */
  lossAndGrads(
    ids: Int32Array,
    inputs: LossInputs,
    options: LossOptions,
    temperature: number,
  ): Promise<{ values: LossValues; grads: Map<string, Float32Array> }>;
  /** One AdamW update of every weight that has a gradient (creates the moments on first use). */
  applyAdamW(grads: Map<string, Float32Array>, options: AdamWSettings): Promise<void>;
  /** Replaces every weight (names and sizes checked by the caller against the config). */
  setWeights(weights: Weights): Promise<void>;
  /** The AdamW moments and step, or null before the first update. */
  exportOptimizerState(): Promise<AdamWState | null>;
  /** Replaces the optimizer state (null: forget it, as before any update). */
  importOptimizerState(state: AdamWState | null): Promise<void>;
}
