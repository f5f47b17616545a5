// The special tokens no fill-in may produce, and the logit that bans them: shared by every engine.
import type { ModelConfig } from "./config.ts";

/**
 * The logit given to banned tokens. Effectively −∞ (exp underflows to exactly 0 in float32 and
 * float64) but finite, so p·log p is 0 rather than NaN in an exact KL.
 */
export const BANNED_LOGIT = -1e9;

/** The ids no fill-in may produce: the mask and pad specials of a config. */
export function specialTokenIds(config: Pick<ModelConfig, "mask_token_id" | "pad_token_id">): number[] {
  return [config.mask_token_id, config.pad_token_id];
}

/**
 * Multiply-then-add masks that force `banned` ids to BANNED_LOGIT (temperedLogSoftmax): `keep`
 * [V] is 0 at banned ids, else 1; `add` [V] is BANNED_LOGIT there, else 0.
 */
export function bannedMasks(vocabSize: number, banned: readonly number[]): { keep: Float32Array; add: Float32Array } {
  const keep = new Float32Array(vocabSize).fill(1);
  const add = new Float32Array(vocabSize);
  for (const id of banned) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`banned token id ${id} is outside the vocabulary [0, ${vocabSize})`);
    keep[id] = 0;
    add[id] = BANNED_LOGIT;
  }
  return { keep, add };
}
