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
