// Single-step fill-in: one forward pass per input gives a distribution at every masked position,
// and all k samples of a group are drawn from it (docs/design.md, "Group sampling"). Log-probs are those
// of the sampling distribution at temperature τ BEFORE top-p truncation, for policy and reference
// alike; the special tokens ([MASK], [PAD]) are never sampled and carry probability 0.
import * as tf from "@tensorflow/tfjs-core";
import { mixSeeds, Rng } from "@grpomesh/rng";
import { BANNED_LOGIT, bannedMasks, specialTokenIds } from "./special-tokens.ts";
import { temperedLogSoftmax } from "./forward.ts";
import { tfOps } from "./tf-ops.ts";

export { BANNED_LOGIT, specialTokenIds } from "./special-tokens.ts";
import { MaskedTransformer } from "./transformer.ts";

/** temperedLogSoftmax (forward.ts) on tfjs. */
export function logSoftmaxWithTemperature(logits: tf.Tensor, temperature: number, bannedTokenIds: readonly number[] = []): tf.Tensor {
  checkTemperature(temperature);
  const { keep, add } = bannedMasks(logits.shape[logits.shape.length - 1]!, bannedTokenIds);
  return tf.tidy(() => temperedLogSoftmax(tfOps, logits, temperature, tf.tensor1d(keep), tf.tensor1d(add)));
}

function checkTemperature(temperature: number): void {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`temperature must be a finite number > 0; got ${temperature}`);
}

/** Where the logits come from: a model (one forward pass here) or logits already computed [B·T·V]. */
export type LogitsSource = MaskedTransformer | Float32Array | tf.Tensor;

export interface MaskedInputs {
  /** Number of inputs B. */
  batch: number;
  /** Sequence length T of every input. */
  seqLen: number;
  /** Positions holding this id are filled in. */
  maskTokenId: number;
}

/** Logits [B·T·V] for flat ids [B·T], in one forward pass when the source is a model. */
export async function computeLogits(
  source: LogitsSource,
  inputs: Int32Array,
  shape: { batch: number; seqLen: number; vocabSize?: number },
): Promise<Float32Array> {
  const { batch, seqLen } = shape;
  if (inputs.length !== batch * seqLen) throw new Error(`inputs hold ${inputs.length} ids; expected batch ${batch} × seqLen ${seqLen} = ${batch * seqLen}`);
  if (source instanceof MaskedTransformer) {
    if (source.config.model_type !== "masked_lm") throw new Error(`fill-in needs a masked_lm model; this one is a ${source.config.model_type}`);
    const logits = source.forwardIds(inputs, batch, seqLen);
    try {
      return (await logits.data()) as Float32Array;
    } finally {
      logits.dispose();
    }
  }
  const data = source instanceof Float32Array ? source : ((await source.data()) as Float32Array);
  if (data.length % (batch * seqLen) !== 0 || data.length === 0) {
    throw new Error(`logits hold ${data.length} values; expected batch ${batch} × seqLen ${seqLen} × vocab`);
  }
  if (shape.vocabSize !== undefined && data.length !== batch * seqLen * shape.vocabSize) {
    throw new Error(`logits hold ${data.length} values; expected ${batch} × ${seqLen} × ${shape.vocabSize}`);
  }
  return data;
}

function bannedIds(source: LogitsSource, maskTokenId: number, given?: readonly number[]): number[] {
  if (given) return [...given];
  if (source instanceof MaskedTransformer) return specialTokenIds(source.config);
  return [maskTokenId];
}

/** In place: row ← log softmax(row / τ) with banned ids at BANNED_LOGIT (float64 accumulation). */
function logSoftmaxRow(logits: Float32Array, offset: number, V: number, temperature: number, banned: Uint8Array, out: Float64Array): void {
  let max = -Infinity;
  for (let v = 0; v < V; v++) {
    const z = banned[v] ? BANNED_LOGIT : logits[offset + v]! / temperature;
    out[v] = z;
    if (z > max) max = z;
  }
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(out[v]! - max);
  const lse = max + Math.log(sum);
  for (let v = 0; v < V; v++) out[v] = out[v]! - lse;
}

function bannedMask(V: number, ids: readonly number[]): Uint8Array {
  const mask = new Uint8Array(V);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`banned token id ${id} is outside the vocabulary [0, ${V})`);
    mask[id] = 1;
  }
  return mask;
}

export interface MaskedLogProbsOptions extends MaskedInputs {
  temperature: number;
  /** Ids given probability 0; default [MASK] and [PAD] of the model (or just maskTokenId for raw logits). */
  bannedTokenIds?: readonly number[];
}

/**
 * Log-probs at temperature τ at every masked position: Float32Array [B, T, V], zeros at unmasked
 * positions. What the reference service serves and the exact KL needs.
 */
export async function maskedLogProbs(source: LogitsSource, inputs: Int32Array, opts: MaskedLogProbsOptions): Promise<Float32Array> {
  checkTemperature(opts.temperature);
  const logits = await computeLogits(source, inputs, opts);
  const { batch: B, seqLen: T } = opts;
  const V = logits.length / (B * T);
  const banned = bannedMask(V, bannedIds(source, opts.maskTokenId, opts.bannedTokenIds));
  const out = new Float32Array(B * T * V);
  const row = new Float64Array(V);
  for (let p = 0; p < B * T; p++) {
    if (inputs[p] !== opts.maskTokenId) continue;
    logSoftmaxRow(logits, p * V, V, opts.temperature, banned, row);
    out.set(row, p * V);
  }
  return out;
}

export interface SampleOptions extends MaskedInputs {
  /** k: completions per input, all from the same forward pass. */
  groupSize: number;
  /** τ > 0. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 disables truncation. */
  topP: number;
  /** Seed of the whole call; sample j of input b uses stream mixSeeds(mixSeeds(seed, b), j). */
  seed: number | bigint | string;
  /**
   * Per-input seeds replacing mixSeeds(seed, b), so an input's samples stay the same when it is
   * sent in another batch or at another position (e.g. pass mixSeeds(stepSeed, globalIndex)).
   */
  inputSeeds?: ArrayLike<number>;
  bannedTokenIds?: readonly number[];
  /** Also return per-token log-probs [B, k, T] (zeros at unmasked positions). */
  returnTokenLogProbs?: boolean;
}

export interface FillIns {
  /** [B, k, T]: the inputs with every masked position filled; other positions unchanged. */
  completions: Int32Array;
  /** [B, k]: Σ over masked positions of log p_τ(token), before top-p truncation. */
  logProbs: Float32Array;
  tokenLogProbs?: Float32Array;
}

/**
 * Samples k fill-ins per input from ONE forward pass per input, with top-p truncation: at each
 * masked position the smallest set of most probable tokens whose mass reaches topP, renormalised.
 * Deterministic in (seed or inputSeeds, logits); independent of the other inputs in the batch.
 */
export async function sampleFillIns(source: LogitsSource, inputs: Int32Array, opts: SampleOptions): Promise<FillIns> {
  const { batch: B, seqLen: T, groupSize: K, temperature, topP, maskTokenId } = opts;
  checkTemperature(temperature);
  if (!Number.isInteger(K) || K < 1) throw new Error(`groupSize must be a positive integer; got ${K}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`topP must be in (0, 1]; got ${topP}`);
  if (opts.inputSeeds && opts.inputSeeds.length !== B) throw new Error(`inputSeeds has ${opts.inputSeeds.length} entries; expected one per input (${B})`);
  const logits = await computeLogits(source, inputs, opts);
  const V = logits.length / (B * T);
  const banned = bannedMask(V, bannedIds(source, maskTokenId, opts.bannedTokenIds));
  if (banned[maskTokenId] !== 1) throw new Error(`the mask token ${maskTokenId} must be among the banned ids; a fill-in may not produce [MASK]`);

  const completions = new Int32Array(B * K * T);
  const logProbs = new Float32Array(B * K);
  const tokenLogProbs = opts.returnTokenLogProbs ? new Float32Array(B * K * T) : undefined;
  const row = new Float64Array(V);
  const order = Array.from({ length: V }, (_, v) => v);

  for (let b = 0; b < B; b++) {
    const input = inputs.subarray(b * T, (b + 1) * T);
    for (let j = 0; j < K; j++) completions.set(input, (b * K + j) * T);
    // Per masked position: full log-probs (for reporting) and the top-p candidate list.
    const positions: number[] = [];
    const rowLogProbs: Float64Array[] = [];
    const candidates: Int32Array[] = [];
    const cumulative: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      if (input[t] !== maskTokenId) continue;
      logSoftmaxRow(logits, (b * T + t) * V, V, temperature, banned, row);
      const lp = Float64Array.from(row);
      const allowed = order.filter((v) => !banned[v]).sort((x, y) => lp[y]! - lp[x]! || x - y);
      const kept: number[] = [];
      const cum: number[] = [];
      let mass = 0;
      for (const v of allowed) {
        kept.push(v);
        mass += Math.exp(lp[v]!);
        cum.push(mass);
        if (topP < 1 && mass >= topP) break;
      }
      positions.push(t);
      rowLogProbs.push(lp);
      candidates.push(Int32Array.from(kept));
      cumulative.push(Float64Array.from(cum));
    }
    const inputSeed = opts.inputSeeds ? opts.inputSeeds[b]! : mixSeeds(opts.seed, b);
    for (let j = 0; j < K; j++) {
      const rng = new Rng(mixSeeds(inputSeed, j));
      const base = (b * K + j) * T;
      let total = 0;
      for (let m = 0; m < positions.length; m++) {
        const kept = candidates[m]!;
        const cum = cumulative[m]!;
        const u = rng.next() * cum[cum.length - 1]!; // renormalises the kept mass
        let pick = 0;
        while (pick < kept.length - 1 && u >= cum[pick]!) pick++;
        const token = kept[pick]!;
        const lp = rowLogProbs[m]![token]!;
        completions[base + positions[m]!] = token;
        total += lp;
        if (tokenLogProbs) tokenLogProbs[base + positions[m]!] = lp;
      }
      logProbs[b * K + j] = total;
    }
  }
  return tokenLogProbs ? { completions, logProbs, tokenLogProbs } : { completions, logProbs };
}
