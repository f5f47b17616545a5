// Which positions of a window get [MASK]. Specs are plain JSON (they live in run configs); drawing
// is pure: the same spec, length and Rng state give the same mask. Every window masks >= 1 position.
import type { Rng } from "@grpomesh/rng";

/** Each position's share: a ratio drawn uniformly from [lo, hi], then exactly round(ratio·T) positions. */
export interface RandomMasking {
  kind: "random";
  ratio: [number, number];
}

/** `count` spans (integer, uniform in range), each of `length` (integer, uniform in range); spans may overlap. */
export interface SpanMasking {
  kind: "spans";
  count: [number, number];
  length: [number, number];
}

/** Per window, one of `parts` chosen with probability proportional to its weight. */
export interface MixedMasking {
  kind: "mix";
  parts: Array<{ weight: number; masking: MaskingSpec }>;
}

export type MaskingSpec = RandomMasking | SpanMasking | MixedMasking;

/** Half scattered characters (15–50% of the window), half 1–4 spans of 2–16 characters (words, phrases). */
export const DEFAULT_MASKING: MaskingSpec = {
  kind: "mix",
  parts: [
    { weight: 1, masking: { kind: "random", ratio: [0.15, 0.5] } },
    { weight: 1, masking: { kind: "spans", count: [1, 4], length: [2, 16] } },
  ],
};

function isPair(x: unknown): x is [number, number] {
  return Array.isArray(x) && x.length === 2 && x.every((v) => typeof v === "number" && Number.isFinite(v));
}

/** Throws an error naming the first bad field (e.g. `masking.parts[1].masking.ratio`) and what is expected. */
export function checkMasking(spec: MaskingSpec, path = "masking"): void {
  const bad = (field: string, value: unknown, expected: string): never => {
    throw new Error(`${path}${field} is ${JSON.stringify(value)}; expected ${expected}`);
  };
  if (!spec || typeof spec !== "object") bad("", spec, `an object with kind "random", "spans" or "mix"`);
  switch (spec.kind) {
    case "random":
      if (!isPair(spec.ratio) || !(0 <= spec.ratio[0] && spec.ratio[0] <= spec.ratio[1] && spec.ratio[1] <= 1)) {
        bad(".ratio", spec.ratio, "[lo, hi] with 0 <= lo <= hi <= 1");
      }
      return;
    case "spans":
      for (const field of ["count", "length"] as const) {
        const r = spec[field];
        if (!isPair(r) || !Number.isInteger(r[0]) || !Number.isInteger(r[1]) || r[0] < 1 || r[0] > r[1]) {
          bad(`.${field}`, r, "[min, max] integers with 1 <= min <= max");
        }
      }
      return;
    case "mix":
      if (!Array.isArray(spec.parts) || spec.parts.length === 0) bad(".parts", spec.parts, "a non-empty array of {weight, masking}");
      spec.parts.forEach((part, i) => {
        if (!(typeof part?.weight === "number" && part.weight > 0 && Number.isFinite(part.weight))) bad(`.parts[${i}].weight`, part?.weight, "a positive number");
        checkMasking(part.masking, `${path}.parts[${i}].masking`);
      });
      return;
    default:
      bad(".kind", (spec as { kind?: unknown }).kind, `"random", "spans" or "mix"`);
  }
}

function intInRange(rng: Rng, [lo, hi]: [number, number]): number {
  return lo + rng.nextInt(hi - lo + 1);
}

/**
 * Draws the masked positions of one window of `seqLen` into `out` (1 = masked) and returns it.
 * Assumes `spec` passed `checkMasking`.
 */
export function drawMask(spec: MaskingSpec, seqLen: number, rng: Rng, out: Uint8Array = new Uint8Array(seqLen)): Uint8Array {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new Error(`seqLen is ${seqLen}; expected a positive integer`);
  if (out.length !== seqLen) throw new Error(`mask buffer has length ${out.length}; expected seqLen ${seqLen}`);
  out.fill(0);
  let s: MaskingSpec = spec;
  while (s.kind === "mix") {
    const total = s.parts.reduce((a, p) => a + p.weight, 0);
    let pick = rng.next() * total;
    let chosen = s.parts[s.parts.length - 1]!.masking;
    for (const part of s.parts) {
      if (pick < part.weight) {
        chosen = part.masking;
        break;
      }
      pick -= part.weight;
    }
    s = chosen;
  }
  if (s.kind === "random") {
    const ratio = s.ratio[0] + (s.ratio[1] - s.ratio[0]) * rng.next();
    const n = Math.min(seqLen, Math.max(1, Math.round(ratio * seqLen)));
    // Partial Fisher–Yates: the first n entries of a shuffled index list.
    const order = new Int32Array(seqLen);
    for (let i = 0; i < seqLen; i++) order[i] = i;
    for (let i = 0; i < n; i++) {
      const j = i + rng.nextInt(seqLen - i);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
      out[order[i]!] = 1;
    }
  } else {
    const count = intInRange(rng, s.count);
    for (let c = 0; c < count; c++) {
      const length = Math.min(seqLen, intInRange(rng, s.length));
      const start = rng.nextInt(seqLen - length + 1);
      out.fill(1, start, start + length);
    }
  }
  return out;
}
