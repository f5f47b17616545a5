// The masked (bidirectional) character transformer of docs/model-format.md, written once against
// the op set of ops.ts: tfjs runs it (transformer.ts), the ONNX Tape turns it into the training and
// inference graphs and the exported generator and judge files. Read top to bottom like nanoGPT's
// model.py. Activations are [B·T, ·] so linear layers are 2-D matmuls.
import type { ModelConfig } from "./config.ts";
import type { Ops } from "./ops.ts";

export type { Ops } from "./ops.ts";

/**
 * How token ids become embeddings; both give the same numbers. "onehot" (default): oneHot(ids) @
 * table, whose gradient is a plain matmul (tfjs-wasm has no gather gradient). "gather": a row
 * lookup, whose ONNX gradient is ScatterND with reduction "add" (not on every execution provider).
 */
export type EmbeddingMode = "gather" | "onehot";

export interface ForwardShape<X> {
  batch: number;
  /** T ≤ seq_len: positions 0 … T−1 of the position table. */
  seqLen: number;
  embedding?: EmbeddingMode;
  /** Applied to each attention and MLP output before its residual add (training-time dropout). */
  dropout?: (x: X) => X;
}

/**
 * ids [B, T] → masked_lm: logits [B, T, V]; sequence_scorer: score [B] (linear head on the mean
 * over positions). Token + position embedding, pre-LN blocks with bidirectional attention and a
 * gelu_tanh MLP, final LN. `w` returns a weight by its docs/model-format.md name.
 */
export function transformerForward<X>(o: Ops<X>, config: ModelConfig, w: (name: string) => X, ids: X, shape: ForwardShape<X>): X {
  const { d_model: D, n_head: H, vocab_size: V, n_layer: L, ln_eps: eps } = config;
  const { batch: B, seqLen: T } = shape;
  const N = B * T,
    dh = D / H;
  const tidy = <R extends X | X[]>(fn: () => R): R => (o.tidy ? o.tidy(fn) : fn());
  const drop = shape.dropout ?? ((x: X) => x);
  const linear = (x: X, p: string) => o.add(o.matMul(x, w(`${p}.weight`)), w(`${p}.bias`));
  // [N, D] → [B, H, T, dh]: head h is columns h·dh … (h+1)·dh − 1
  const heads = (x: X) => o.transpose(o.reshape(x, [B, T, H, dh]), [0, 2, 1, 3]);
  // 1/√dh scales the q columns of the qkv weight and bias ([D, 3D], tiny) instead of the scores
  // ([B, H, T, T]): the same product without a pass over a large activation.
  const qScale = o.constant(
    Float32Array.from({ length: 3 * D }, (_, c) => (c < D ? 1 / Math.sqrt(dh) : 1)),
    [3 * D],
  );

  let h = tidy(() => {
    // gather takes the [B, T] ids as they are: a Reshape of int64 ids is one node onnxruntime's
    // WebGPU provider would leave on the CPU
    const tok = shape.embedding === "gather" ? o.gather(w("tok_emb.weight"), ids) : o.matMul(o.oneHot(o.reshape(ids, [N]), V), w("tok_emb.weight"));
    const pos = T === config.seq_len ? w("pos_emb.weight") : o.slice(w("pos_emb.weight"), [0], [T], [0]);
    return o.reshape(o.add(o.reshape(tok, [B, T, D]), pos), [N, D]);
  });
  for (let i = 0; i < L; i++) {
    const p = `blocks.${i}`;
    const x = h;
    // each block in its own tidy: tfjs inference holds one block's intermediates at a time
    h = tidy(() => {
      const a = o.layerNorm(x, w(`${p}.ln1.weight`), w(`${p}.ln1.bias`), eps);
      const qkv = o.add(o.matMul(a, o.mul(w(`${p}.attn.qkv.weight`), qScale)), o.mul(w(`${p}.attn.qkv.bias`), qScale));
      const [q, k, v] = o.split(qkv, 1, [D, D, D]);
      const ctx = o.matMul(o.softmax(o.matMulT(heads(q!), heads(k!))), heads(v!)); // [B, H, T, dh]
      const attn = linear(o.reshape(o.transpose(ctx, [0, 2, 1, 3]), [N, D]), `${p}.attn.out`);
      const r = o.add(x, drop(attn));
      const m = o.layerNorm(r, w(`${p}.ln2.weight`), w(`${p}.ln2.bias`), eps);
      return o.add(r, drop(linear(o.geluTanh(linear(m, `${p}.mlp.fc`)), `${p}.mlp.proj`)));
    });
  }
  return tidy(() => {
    const out = o.layerNorm(h, w("ln_f.weight"), w("ln_f.bias"), eps);
    if (config.model_type === "masked_lm") return o.reshape(linear(out, "head"), [B, T, V]);
    return o.reshape(linear(o.reduceMean(o.reshape(out, [B, T, D]), [1], false), "score"), [B]);
  });
}

/**
 * log softmax(logits / τ) over the last axis with banned ids forced to BANNED_LOGIT by the masks of
 * bannedMasks: multiply then add (not where/select), both differentiable on every engine. The GRPO
 * loss uses the sampler's τ and banned ids, so its log π matches the log-probs sampling reports.
 */
export function temperedLogSoftmax<X>(o: Ops<X>, logits: X, temperature: X | number, keep: X, add: X): X {
  return o.logSoftmax(o.add(o.mul(o.div(logits, temperature), keep), add));
}
