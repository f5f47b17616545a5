// Shared fixtures for this package's tests (not part of the public API).
import { defaultGeneratorConfig, type ModelConfig } from "../config.ts";

export const TINY_VOCAB = ["[PAD]", "[MASK]", "\n", " ", "a", "b", "c", "d", "e", "f"];

/** A model small enough for many forward/backward passes in a test. */
export function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return defaultGeneratorConfig(TINY_VOCAB, { seq_len: 12, n_layer: 2, n_head: 2, d_model: 16, d_ff: 32, ...overrides });
}

/** Plain-JS forward pass straight from docs/model-format.md, in float64, for one sequence. */
export function referenceForward(config: ModelConfig, w: Map<string, Float32Array>, ids: ArrayLike<number>): Float64Array {
  const T = ids.length;
  const { d_model: D, n_head: H, d_ff: F, vocab_size: V, ln_eps: eps } = config;
  const dh = D / H;
  const get = (n: string) => w.get(n)!;
  const matmul = (x: Float64Array, rows: number, inDim: number, W: Float32Array, b: Float32Array, outDim: number) => {
    const y = new Float64Array(rows * outDim);
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < outDim; o++) {
        let s = b[o]!;
        for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * W[i * outDim + o]!;
        y[r * outDim + o] = s;
      }
    return y;
  };
  const ln = (x: Float64Array, g: Float32Array, b: Float32Array) => {
    const y = new Float64Array(x.length);
    for (let t = 0; t < T; t++) {
      let mean = 0;
      for (let i = 0; i < D; i++) mean += x[t * D + i]!;
      mean /= D;
      let v = 0;
      for (let i = 0; i < D; i++) v += (x[t * D + i]! - mean) ** 2;
      v /= D;
      for (let i = 0; i < D; i++) y[t * D + i] = ((x[t * D + i]! - mean) / Math.sqrt(v + eps)) * g[i]! + b[i]!;
    }
    return y;
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  let h = new Float64Array(T * D);
  for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) h[t * D + i] = get("tok_emb.weight")[ids[t]! * D + i]! + get("pos_emb.weight")[t * D + i]!;
  for (let l = 0; l < config.n_layer; l++) {
    const p = `blocks.${l}.`;
    const a = ln(h, get(p + "ln1.weight"), get(p + "ln1.bias"));
    const qkv = matmul(a, T, D, get(p + "attn.qkv.weight"), get(p + "attn.qkv.bias"), 3 * D);
    const heads = new Float64Array(T * D);
    for (let hd = 0; hd < H; hd++) {
      for (let i = 0; i < T; i++) {
        const scores = new Float64Array(T);
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let c = 0; c < dh; c++) s += qkv[i * 3 * D + hd * dh + c]! * qkv[j * 3 * D + D + hd * dh + c]!;
          scores[j] = s / Math.sqrt(dh);
          max = Math.max(max, scores[j]!);
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += scores[j] = Math.exp(scores[j]! - max);
        for (let c = 0; c < dh; c++) {
          let s = 0;
          for (let j = 0; j < T; j++) s += (scores[j]! / sum) * qkv[j * 3 * D + 2 * D + hd * dh + c]!;
          heads[i * D + hd * dh + c] = s;
        }
      }
    }
    const attn = matmul(heads, T, D, get(p + "attn.out.weight"), get(p + "attn.out.bias"), D);
    h = h.map((x, i) => x + attn[i]!);
    const m = ln(h, get(p + "ln2.weight"), get(p + "ln2.bias"));
    const fc = matmul(m, T, D, get(p + "mlp.fc.weight"), get(p + "mlp.fc.bias"), F).map(gelu);
    const proj = matmul(fc, T, F, get(p + "mlp.proj.weight"), get(p + "mlp.proj.bias"), D);
    h = h.map((x, i) => x + proj[i]!);
  }
  const out = ln(h, get("ln_f.weight"), get("ln_f.bias"));
  if (config.model_type === "masked_lm") return matmul(out, T, D, get("head.weight"), get("head.bias"), V);
  const pooled = new Float64Array(D);
  for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) pooled[i]! += out[t * D + i]! / T;
  return matmul(pooled, 1, D, get("score.weight"), get("score.bias"), 1);
}

/** Deterministic pseudo-random weights with a larger spread than init, so tests see real structure. */
export function randomizeWeights(shapes: Map<string, number[]>, seed: number): Map<string, Float32Array> {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = name.includes("ln") && name.endsWith(".weight") ? 1 + 0.5 * next() : 0.6 * next();
    out.set(name, data);
  }
  return out;
}
