// The generator of docs/model-format.md as ONNX graphs for one static [B, T]: an inference graph
// (ids → logits) and a training graph (ids + GRPO batch → loss, metrics, one gradient per weight).
// Same arithmetic as libs/model's MaskedTransformer and libs/grpo's loss-tf.ts; the backward pass
// comes from the tape in autodiff.ts. Quantities that do not depend on the weights (token
// weights, completion indices, masked reference log-probs, advantages) are graph inputs built in
// JS, as loss-tf.ts builds them as constants.
import { expectedTensorShapes, type ModelConfig, type Weights } from "@grpomesh/model/format";
import { Tape, type Value } from "./autodiff.ts";

/** How the KL term is computed: none (no reference given), or libs/grpo's estimators. */
export type KlMode = "none" | "exact" | "k1" | "k3";

/**
 * How token ids become embeddings; both give the same numbers and measured the same speed on CPU.
 * "onehot" (default): OneHot(ids) @ table, whose gradient is a plain MatMul. "gather": Gather,
 * whose gradient is ScatterND with reduction "add" (not every execution provider has that kernel).
 */
export type EmbeddingMode = "gather" | "onehot";

export const IDS_INPUT = "ids";
export const LOGITS_OUTPUT = "logits";

/** Graph input names of the training graph (besides the weights, named as in the checkpoint). */
export const TRAIN_INPUTS = {
  temperature: "temperature",
  /** [V] 0 for banned ids, else 1; then… */
  bannedKeep: "banned_keep",
  /** [V] BANNED_LOGIT for banned ids, else 0 (multiply-then-add, as logSoftmaxWithTemperature). */
  bannedAdd: "banned_add",
  /** int64 [B, T, k]: completion ids at masked positions, 0 elsewhere. */
  completionIds: "completion_ids",
  /** [B, T, 1]: the token weight of sample i (1 or 1/|M_i|) at masked positions, 0 elsewhere. */
  tokenWeight: "token_weight",
  /** [B, k] */
  advantages: "advantages",
  /** [] the B·k the loss is averaged over. */
  sampleCount: "sample_count",
  /** [] β */
  klBeta: "kl_beta",
  /** exact KL: [B, T, V] reference log-probs at masked positions, 0 elsewhere. */
  refLogProbs: "ref_log_probs",
  /** k1/k3: [B, T, k] the reference log-prob of each completion token, 0 at unmasked positions. */
  refTokenLogProbs: "ref_token_log_probs",
  /** k1/k3: [B, T, 1] 1 at masked positions. */
  tokenMask: "token_mask",
  /** PPO: [B, k] old sequence log-probs, reduced like the token reduction. */
  oldLogProbs: "old_log_probs",
  /** PPO: [] 1 − ε and 1 + ε. */
  clipLow: "clip_low",
  clipHigh: "clip_high",
} as const;

/** Scalar outputs of the training graph, in LOSS_VALUE_KEYS order. */
export const METRIC_OUTPUTS = ["loss", "pg_loss", "kl_penalty", "mean_kl", "mean_log_prob", "clip_frac"] as const;

export const gradOutputName = (param: string) => `grad.${param}`;

export interface TrainGraphSpec {
  batch: number;
  seqLen: number;
  groupSize: number;
  kl: KlMode;
  /** β > 0: the KL enters the loss (β·meanKl); otherwise mean_kl is only reported, as loss-tf.ts does. */
  klInLoss: boolean;
  /** PPO clipping with old log-probs. */
  ppo: boolean;
  embedding?: EmbeddingMode;
}

function checkShape(config: ModelConfig, batch: number, seqLen: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch is ${batch}; expected a positive integer`);
  if (!Number.isInteger(seqLen) || seqLen < 1 || seqLen > config.seq_len) {
    throw new Error(`sequence length ${seqLen} is outside [1, ${config.seq_len}] (the model's seq_len)`);
  }
  if (config.model_type !== "masked_lm") throw new Error(`the ONNX trainer runs masked_lm generators; this config is a ${config.model_type}`);
}

/**
 * The forward pass: token + position embedding, pre-LN blocks with bidirectional attention and a
 * gelu_tanh MLP, final LN, linear head. Activations are [B·T, ·] so linear layers are 2-D MatMuls.
 * Returns logits [B·T, V].
 */
export function emitLogits(
  t: Tape,
  config: ModelConfig,
  batch: number,
  seqLen: number,
  w: (name: string) => Value,
  ids: Value,
  embedding: EmbeddingMode = "onehot",
): Value {
  const { d_model: D, n_head: H, vocab_size: V, n_layer: L, ln_eps: eps } = config;
  const B = batch,
    T = seqLen,
    N = B * T,
    dh = D / H;
  const flatIds = t.reshape(ids, [N]);
  const tok = embedding === "gather" ? t.gather(w("tok_emb.weight"), flatIds) : t.matMul(t.oneHot(flatIds, V), w("tok_emb.weight"));
  const pos = T === config.seq_len ? w("pos_emb.weight") : t.slice(w("pos_emb.weight"), [0], [T], [0]);
  let h = t.reshape(t.add(t.reshape(tok, [B, T, D]), pos), [N, D]);
  const linear = (x: Value, p: string) => t.add(t.matMul(x, w(`${p}.weight`)), w(`${p}.bias`));
  // [N, D] → [B, H, T, dh]
  const heads = (x: Value) => t.transpose(t.reshape(x, [B, T, H, dh]), [0, 2, 1, 3]);

  // 1/√dh scales the q columns of the qkv weight and bias ([D, 3D], tiny) instead of the scores
  // ([B, H, T, T]) or q ([B·T, D]): the same product, without a pass over a large activation.
  const qScale = t.constant(
    Float32Array.from({ length: 3 * D }, (_, c) => (c < D ? 1 / Math.sqrt(dh) : 1)),
    [3 * D],
    "q_scale",
  );
  for (let i = 0; i < L; i++) {
    const p = `blocks.${i}`;
    const a = t.layerNorm(h, w(`${p}.ln1.weight`), w(`${p}.ln1.bias`), eps);
    const qkv = t.add(t.matMul(a, t.mul(w(`${p}.attn.qkv.weight`), qScale)), t.mul(w(`${p}.attn.qkv.bias`), qScale));
    const [q, k, v] = t.split(qkv, 1, [D, D, D]);
    // QKᵀ as matMulT: neither pass copies a transposed head (see Tape.matMulT)
    const scores = t.matMulT(heads(q!), heads(k!));
    const ctx = t.matMul(t.softmax(scores), heads(v!)); // [B, H, T, dh]
    h = t.add(h, linear(t.reshape(t.transpose(ctx, [0, 2, 1, 3]), [N, D]), `${p}.attn.out`));
    const m = t.layerNorm(h, w(`${p}.ln2.weight`), w(`${p}.ln2.bias`), eps);
    h = t.add(h, linear(t.geluTanh(linear(m, `${p}.mlp.fc`)), `${p}.mlp.proj`));
  }
  h = t.layerNorm(h, w("ln_f.weight"), w("ln_f.bias"), eps);
  return linear(h, "head");
}

export interface ForwardGraphOptions {
  /** Bake these weights in as initializers (onnxruntime pre-packs them) instead of graph inputs. */
  weights?: Weights;
  embedding?: EmbeddingMode;
}

/** Inference graph: int64 `ids` [B, T] (+ the weights as inputs unless baked in) → `logits` [B, T, V]. */
export function buildForwardGraph(config: ModelConfig, batch: number, seqLen: number, opts: ForwardGraphOptions = {}): Uint8Array {
  checkShape(config, batch, seqLen);
  const t = new Tape();
  const params = new Map<string, Value>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    params.set(name, opts.weights ? t.namedConstant(name, opts.weights.get(name)!, shape) : t.input(name, "float32", shape));
  }
  const ids = t.input(IDS_INPUT, "int64", [batch, seqLen]);
  const logits = emitLogits(t, config, batch, seqLen, (n) => params.get(n)!, ids, opts.embedding);
  t.output(t.reshape(logits, [batch, seqLen, config.vocab_size]), LOGITS_OUTPUT);
  return t.toModel("grpomesh_forward");
}

/**
 * Training graph: forward → log-softmax(logits/τ, banned ids) → the GRPO loss of libs/grpo with
 * the spec's options → METRIC_OUTPUTS (mean_kl only when kl ≠ "none", kl_penalty only with
 * klInLoss, clip_frac only with ppo)
 * and `grad.<name>` for every weight.
 */
export function buildTrainGraph(config: ModelConfig, spec: TrainGraphSpec): Uint8Array {
  const { batch: B, seqLen: T, groupSize: k } = spec;
  checkShape(config, B, T);
  if (!Number.isInteger(k) || k < 1) throw new Error(`groupSize is ${k}; expected a positive integer`);
  const V = config.vocab_size;
  const t = new Tape();
  const params = new Map<string, Value>();
  for (const [name, shape] of expectedTensorShapes(config)) params.set(name, t.input(name, "float32", shape));
  const ids = t.input(IDS_INPUT, "int64", [B, T]);
  const I = TRAIN_INPUTS;
  const temperature = t.input(I.temperature, "float32", []);
  const keep = t.input(I.bannedKeep, "float32", [V]);
  const add = t.input(I.bannedAdd, "float32", [V]);
  const completionIds = t.input(I.completionIds, "int64", [B, T, k]);
  const tokenWeight = t.input(I.tokenWeight, "float32", [B, T, 1]);
  const advantages = t.input(I.advantages, "float32", [B, k]);
  const sampleCount = t.input(I.sampleCount, "float32", []);

  const logits = emitLogits(t, config, B, T, (n) => params.get(n)!, ids, spec.embedding);
  // logSoftmaxWithTemperature: divide by τ, then banned ids × 0 + BANNED_LOGIT
  const logp = t.reshape(t.logSoftmax(t.add(t.mul(t.div(logits, temperature), keep), add)), [B, T, V]);
  const tokenLogp = t.gatherElements(logp, completionIds, 2); // [B, T, k]
  const logPi = t.reduceSum(t.mul(tokenLogp, tokenWeight), [1], false); // [B, k]
  const all = (x: Value) =>
    t.reduceSum(
      x,
      x.shape.map((_, i) => i),
      false,
    );

  let pgSum: Value;
  let clipFrac: Value | null = null;
  if (spec.ppo) {
    const old = t.input(I.oldLogProbs, "float32", [B, k]);
    const low = t.input(I.clipLow, "float32", []);
    const high = t.input(I.clipHigh, "float32", []);
    const ratio = t.exp(t.sub(logPi, old));
    const unclipped = t.mul(ratio, advantages);
    const clipped = t.mul(t.clip(ratio, low, high), advantages);
    const surrogate = t.min(unclipped, clipped); // ties send the gradient to the unclipped term, as tf.minimum
    pgSum = t.neg(all(t.add(t.sub(surrogate, advantages), t.mul(advantages, old))));
    clipFrac = t.div(all(t.cast(t.compare("Less", clipped, unclipped), "float32")), sampleCount);
  } else {
    pgSum = t.neg(all(t.mul(logPi, advantages)));
  }
  const pgLoss = t.div(pgSum, sampleCount);

  let meanKl: Value | null = null;
  if (spec.kl === "exact") {
    const ref = t.input(I.refLogProbs, "float32", [B, T, V]);
    const klTok = t.reduceSum(t.mul(t.exp(logp), t.sub(logp, ref)), [2], false); // [B, T]
    const klInput = t.reduceSum(t.mul(klTok, t.reshape(tokenWeight, [B, T])), [1], false); // [B], shared by the group
    meanKl = t.div(t.mul(all(klInput), k), sampleCount);
  } else if (spec.kl === "k1" || spec.kl === "k3") {
    const refTok = t.input(I.refTokenLogProbs, "float32", [B, T, k]);
    const mask = t.input(I.tokenMask, "float32", [B, T, 1]);
    // masking the log-ratio (not only the sum) keeps exp() finite at unmasked positions
    const logRatio = t.mul(t.sub(refTok, tokenLogp), mask);
    const perToken = spec.kl === "k1" ? t.neg(logRatio) : t.sub(t.sub(t.exp(logRatio), logRatio), 1);
    meanKl = t.div(all(t.mul(perToken, tokenWeight)), sampleCount);
  }
  let loss = pgLoss;
  let klPenalty: Value | null = null;
  if (meanKl && spec.klInLoss) {
    klPenalty = t.mul(meanKl, t.input(I.klBeta, "float32", []));
    loss = t.add(pgLoss, klPenalty);
  }
  const meanLogProb = t.div(all(logPi), sampleCount);

  const names = [...params.keys()];
  const grads = t.gradients(
    loss,
    names.map((n) => params.get(n)!),
  );
  const [oLoss, oPg, oKlPen, oMeanKl, oLogProb, oClip] = METRIC_OUTPUTS;
  t.output(loss, oLoss);
  t.output(pgLoss, oPg);
  if (meanKl) t.output(meanKl, oMeanKl);
  if (klPenalty) t.output(klPenalty, oKlPen);
  t.output(meanLogProb, oLogProb);
  if (clipFrac) t.output(clipFrac, oClip);
  names.forEach((n, i) => t.output(grads[i]!, gradOutputName(n)));
  return t.toModel("grpomesh_train");
}
