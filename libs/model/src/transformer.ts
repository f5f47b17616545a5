// The tfjs model: the weights as tf.Variables, their GPT-2 style initialisation, checkpoints, and
// the forward pass of forward.ts run on tfjs (tf-ops.ts).
import * as tf from "@tensorflow/tfjs-core";
import { mixSeeds, Rng } from "@grpomesh/rng";
import { expectedTensorShapes, validateConfig, type ModelConfig } from "./config.ts";
import { checkWeightsAgainstConfig, loadCheckpoint, saveCheckpoint, type CheckpointContents, type Weights } from "./checkpoint.ts";
import { transformerForward } from "./forward.ts";
import { tfOps } from "./tf-ops.ts";

// ---------------------------------------------------------------------------------------------
// The model

export interface ForwardOptions {
  /** Applies dropout (if the config has any). Default false. */
  training?: boolean;
}

let instances = 0;

export class MaskedTransformer {
  readonly config: ModelConfig;
  /** Trainable variables keyed by their docs/model-format.md names. */
  readonly variables: Map<string, tf.Variable>;
  private readonly seed: number;
  private dropoutCalls = 0;
  private disposed = false;

  /**
   * A freshly initialised model (GPT-2 style: normal(0, 0.02) weights, residual projections
   * scaled by 1/√(2·n_layer), zero biases, LayerNorm weight 1), deterministic in `seed`.
   */
  constructor(config: ModelConfig, options: { seed?: number | bigint | string } = {}) {
    this.config = validateConfig(config);
    this.seed = mixSeeds(options.seed ?? 0, "model-init");
    const rng = new Rng(this.seed);
    // tfjs variable names are process-global; a prefix lets policy and reference share a process.
    const prefix = `grpomesh_model_${instances++}/`;
    const residualStd = 0.02 / Math.sqrt(2 * this.config.n_layer);
    this.variables = new Map();
    for (const [name, shape] of expectedTensorShapes(this.config)) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(size);
      if (/(^|\.)ln(1|2|_f)\.weight$/.test(name)) values.fill(1);
      else if (name.endsWith(".weight")) {
        const std = name.endsWith("attn.out.weight") || name.endsWith("mlp.proj.weight") ? residualStd : 0.02;
        for (let i = 0; i < size; i++) values[i] = rng.normal() * std;
      }
      const initial = tf.tensor(values, shape);
      this.variables.set(name, tf.variable(initial, true, prefix + name));
      initial.dispose(); // the variable keeps its own reference to the data
    }
  }

  /** A model with the weights of a checkpoint folder (config.json + model.safetensors). */
  static fromCheckpoint(dir: string): MaskedTransformer {
    const ckpt = loadCheckpoint(dir);
    const model = new MaskedTransformer(ckpt.config);
    model.setWeights(ckpt.weights);
    return model;
  }

  /** Saves config + weights (+ extras) atomically to `dir`; returns the weights digest. */
  save(dir: string, extras: Omit<CheckpointContents, "config" | "weights"> = {}): string {
    return saveCheckpoint(dir, { ...extras, config: this.config, weights: this.getWeights() });
  }

  private v(name: string): tf.Variable {
    const variable = this.variables.get(name);
    if (!variable) throw new Error(`model has no tensor "${name}"`);
    return variable;
  }

  /**
   * ids [B, T] int32 (T ≤ seq_len) → masked_lm: logits [B, T, V]; sequence_scorer: scores [B].
   */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor {
    if (this.disposed) throw new Error("MaskedTransformer.forward called after dispose()");
    if (ids.rank !== 2 || ids.dtype !== "int32") throw new Error(`forward expects int32 ids of shape [batch, seq]; got ${ids.dtype} [${ids.shape}]`);
    if (ids.shape[1] > this.config.seq_len) throw new Error(`forward got sequences of length ${ids.shape[1]}; this model's seq_len is ${this.config.seq_len}`);
    const { dropout } = this.config;
    const drop =
      options.training && dropout > 0 ? (x: tf.Tensor) => tf.dropout(x, dropout, undefined, mixSeeds(this.seed, "dropout", this.dropoutCalls++)) : undefined;
    const [batch, seqLen] = ids.shape;
    return tf.tidy(() => transformerForward(tfOps, this.config, (name) => this.v(name), ids, { batch, seqLen, dropout: drop }));
  }

  /** Convenience: forward from a flat Int32Array [B·T]. */
  forwardIds(ids: Int32Array, batch: number, seqLen: number, options: ForwardOptions = {}): tf.Tensor {
    if (ids.length !== batch * seqLen) throw new Error(`forwardIds: ${ids.length} ids do not make ${batch} sequences of ${seqLen}`);
    return tf.tidy(() => this.forward(tf.tensor2d(ids, [batch, seqLen], "int32"), options));
  }

  /** A copy of every weight, keyed by docs/model-format.md names. */
  getWeights(): Weights {
    const out: Weights = new Map();
    for (const [name, variable] of this.variables) out.set(name, variable.dataSync() as Float32Array);
    return out;
  }

  /** Replaces every weight; names and sizes must match the config exactly. */
  setWeights(weights: Weights): void {
    checkWeightsAgainstConfig(this.config, weights, "setWeights");
    for (const [name, variable] of this.variables) {
      const t = tf.tensor(weights.get(name)!, variable.shape);
      variable.assign(t);
      t.dispose();
    }
  }

  /** Number of parameters held. */
  parameterCount(): number {
    let n = 0;
    for (const v of this.variables.values()) n += v.size;
    return n;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.variables.values()) v.dispose();
    this.disposed = true;
  }
}
