// The masked (bidirectional) character transformer of docs/model-format.md in tfjs: one file,
// read top to bottom like nanoGPT's model.py. Two choices are for tfjs-wasm speed and coverage
// (docs/engine.md): linear layers use a custom-gradient matmul with explicit transposes, and the
// token embedding is oneHot(ids) @ table, because gather's gradient is not registered on wasm.
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's Node build registers no gradients; see gradients.ts.
import "./gradients.ts";
import { mixSeeds, Rng } from "@grpomesh/rng";
import { expectedTensorShapes, validateConfig, type ModelConfig } from "./config.ts";
import { checkWeightsAgainstConfig, loadCheckpoint, saveCheckpoint, type CheckpointContents, type Weights } from "./checkpoint.ts";

// ---------------------------------------------------------------------------------------------
// Building blocks

/**
 * `x @ w` for 2-D tensors. Its backward transposes explicitly and runs plain matmuls; tfjs's own
 * matMul gradient uses transposeA/B flags, which run 10-40× slower on wasm.
 */
export const matMul2d: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D = tf.customGrad((...args: unknown[]) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)];
    },
  };
}) as never;

/**
 * Batched `a @ b` for [N, M, K] × [N, K, P], again with explicit transposes in the backward pass.
 */
export const batchMatMul: (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D = tf.customGrad((...args: unknown[]) => {
  const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [tf.matMul(dy as tf.Tensor3D, tf.transpose(bs, [0, 2, 1])), tf.matMul(tf.transpose(as, [0, 2, 1]), dy as tf.Tensor3D)];
    },
  };
}) as never;

/** `x @ w + b` over the last axis of x (any rank), as a 2-D matmul. */
function linear(x: tf.Tensor, w: tf.Variable, b: tf.Variable): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  const outShape = [...x.shape.slice(0, -1), w.shape[1]!];
  return tf.reshape(tf.add(matMul2d(tf.reshape(x, [-1, inDim]) as tf.Tensor2D, w as tf.Tensor2D), b), outShape);
}

/** LayerNorm over the last axis with biased variance. */
function layerNorm(x: tf.Tensor, w: tf.Variable, b: tf.Variable, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), w), b);
}

const GELU_C = Math.sqrt(2 / Math.PI);
/** gelu_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), GELU_C);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

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

  private dropout(x: tf.Tensor, training: boolean): tf.Tensor {
    if (!training || this.config.dropout === 0) return x;
    return tf.dropout(x, this.config.dropout, undefined, mixSeeds(this.seed, "dropout", this.dropoutCalls++));
  }

  /** Token embedding + positional embedding: [B, T] int32 → [B, T, D]. */
  private embed(ids: tf.Tensor2D): tf.Tensor3D {
    const [B, T] = ids.shape;
    const { vocab_size: V, d_model: D } = this.config;
    const oneHot = tf.cast(tf.oneHot(tf.reshape(ids, [-1]), V), "float32") as tf.Tensor2D;
    const tok = tf.reshape(matMul2d(oneHot, this.v("tok_emb.weight") as tf.Tensor2D), [B, T, D]);
    const pos = tf.slice(this.v("pos_emb.weight"), [0, 0], [T, D]);
    return tf.add(tok, pos) as tf.Tensor3D;
  }

  /** Bidirectional multi-head self-attention: no causal mask. */
  private attention(x: tf.Tensor3D, i: number): tf.Tensor3D {
    const [B, T, D] = x.shape;
    const H = this.config.n_head;
    const dh = D / H;
    const qkv = linear(x, this.v(`blocks.${i}.attn.qkv.weight`), this.v(`blocks.${i}.attn.qkv.bias`));
    // [B, T, 3D] → three [B·H, T, dh]; columns are q | k | v, head h at h·dh … (h+1)·dh − 1.
    const [q, k, v] = tf.split(qkv, 3, -1).map((t) => tf.reshape(tf.transpose(tf.reshape(t, [B, T, H, dh]), [0, 2, 1, 3]), [B * H, T, dh]) as tf.Tensor3D);
    const kT = tf.transpose(k!, [0, 2, 1]) as tf.Tensor3D;
    const scores = tf.mul(batchMatMul(q!, kT), 1 / Math.sqrt(dh));
    const probs = tf.softmax(scores) as tf.Tensor3D;
    const heads = batchMatMul(probs, v!); // [B·H, T, dh]
    const merged = tf.reshape(tf.transpose(tf.reshape(heads, [B, H, T, dh]), [0, 2, 1, 3]), [B, T, D]);
    return linear(merged, this.v(`blocks.${i}.attn.out.weight`), this.v(`blocks.${i}.attn.out.bias`)) as tf.Tensor3D;
  }

  private mlp(x: tf.Tensor3D, i: number): tf.Tensor3D {
    const hidden = geluTanh(linear(x, this.v(`blocks.${i}.mlp.fc.weight`), this.v(`blocks.${i}.mlp.fc.bias`)));
    return linear(hidden, this.v(`blocks.${i}.mlp.proj.weight`), this.v(`blocks.${i}.mlp.proj.bias`)) as tf.Tensor3D;
  }

  private block(h: tf.Tensor3D, i: number, training: boolean): tf.Tensor3D {
    const eps = this.config.ln_eps;
    const a = layerNorm(h, this.v(`blocks.${i}.ln1.weight`), this.v(`blocks.${i}.ln1.bias`), eps) as tf.Tensor3D;
    h = tf.add(h, this.dropout(this.attention(a, i), training)) as tf.Tensor3D;
    const m = layerNorm(h, this.v(`blocks.${i}.ln2.weight`), this.v(`blocks.${i}.ln2.bias`), eps) as tf.Tensor3D;
    return tf.add(h, this.dropout(this.mlp(m, i), training)) as tf.Tensor3D;
  }

  /**
   * ids [B, T] int32 (T ≤ seq_len) → masked_lm: logits [B, T, V]; sequence_scorer: scores [B].
   * Each block runs in its own tidy, so inference holds one block's intermediates at a time.
   */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor {
    if (this.disposed) throw new Error("MaskedTransformer.forward called after dispose()");
    if (ids.rank !== 2 || ids.dtype !== "int32") throw new Error(`forward expects int32 ids of shape [batch, seq]; got ${ids.dtype} [${ids.shape}]`);
    if (ids.shape[1] > this.config.seq_len) throw new Error(`forward got sequences of length ${ids.shape[1]}; this model's seq_len is ${this.config.seq_len}`);
    const training = options.training ?? false;
    return tf.tidy(() => {
      let h = tf.tidy(() => this.embed(ids));
      for (let i = 0; i < this.config.n_layer; i++) {
        const input = h;
        h = tf.tidy(() => this.block(input, i, training));
      }
      return tf.tidy(() => {
        const out = layerNorm(h, this.v("ln_f.weight"), this.v("ln_f.bias"), this.config.ln_eps);
        if (this.config.model_type === "masked_lm") return linear(out, this.v("head.weight"), this.v("head.bias"));
        const pooled = tf.mean(out, 1) as tf.Tensor2D;
        return tf.reshape(linear(pooled, this.v("score.weight"), this.v("score.bias")), [-1]);
      });
    });
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
