// The shapes every GRPO function shares, and one place that checks them. Arrays are flat,
// row-major: completions [B, k, T], mask [B, T], log-probs [B, T, V], per-sample values [B·k].

export type TokenReduction = "sum" | "mean";
export const TOKEN_REDUCTIONS: readonly TokenReduction[] = ["sum", "mean"];

export interface FillIns {
  batchSize: number; // B inputs
  groupSize: number; // k completions per input
  seqLen: number; // T
  vocabSize: number; // V
  /** [B, k, T] token ids; only masked positions are read (others may hold anything). */
  completions: Int32Array;
  /** [B, T]; 1 = masked position, filled by the policy (the set M_i). */
  mask: Uint8Array;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} is ${v}; expected a positive integer`);
}

/** Throws unless every array has the length its shape says and masked token ids are in [0, V). */
export function checkFillIns(f: FillIns): void {
  positiveInt("batchSize", f.batchSize);
  positiveInt("groupSize", f.groupSize);
  positiveInt("seqLen", f.seqLen);
  positiveInt("vocabSize", f.vocabSize);
  const { batchSize: B, groupSize: k, seqLen: T, vocabSize: V } = f;
  if (!(f.completions instanceof Int32Array) || f.completions.length !== B * k * T) {
    throw new Error(
      `completions must be an Int32Array of B·k·T = ${B}·${k}·${T} = ${B * k * T} token ids; ` +
        `got ${f.completions?.constructor?.name} of length ${f.completions?.length}`,
    );
  }
  if (!(f.mask instanceof Uint8Array) || f.mask.length !== B * T) {
    throw new Error(`mask must be a Uint8Array of B·T = ${B * T} flags; got ${f.mask?.constructor?.name} of length ${f.mask?.length}`);
  }
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < T; t++) {
      if (!f.mask[i * T + t]) continue;
      for (let j = 0; j < k; j++) {
        const a = f.completions[(i * k + j) * T + t]!;
        if (a < 0 || a >= V) {
          throw new Error(
            `completion token ${a} at input ${i}, member ${j}, position ${t} is outside the vocabulary [0, ${V}); ` +
              `masked positions must hold sampled token ids`,
          );
        }
      }
    }
  }
}

export function checkLogProbs(name: string, f: FillIns, logp: ArrayLike<number>): void {
  const n = f.batchSize * f.seqLen * f.vocabSize;
  if (logp.length !== n) {
    throw new Error(`${name} has ${logp.length} values; expected B·T·V = ${f.batchSize}·${f.seqLen}·${f.vocabSize} = ${n}`);
  }
}

/** Refuses NaN/±Inf where the loss reads them (masked positions): garbage in must not train. */
export function checkFiniteAtMask(name: string, f: FillIns, logp: ArrayLike<number>): void {
  const { batchSize: B, seqLen: T, vocabSize: V } = f;
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < T; t++) {
      if (!f.mask[i * T + t]) continue;
      const o = (i * T + t) * V;
      for (let v = 0; v < V; v++) {
        if (!Number.isFinite(logp[o + v]!)) {
          throw new Error(`${name}[input ${i}, position ${t}, token ${v}] is ${logp[o + v]}; expected finite log-probabilities at masked positions`);
        }
      }
    }
  }
}

export function checkPerSample(name: string, f: FillIns, values: ArrayLike<number>): void {
  const n = f.batchSize * f.groupSize;
  if (values.length !== n) throw new Error(`${name} has ${values.length} values; expected one per completion, B·k = ${n}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new Error(`${name}[${i}] (input ${Math.floor(i / f.groupSize)}, member ${i % f.groupSize}) is ${values[i]}; expected a finite number`);
    }
  }
}

/** [B] weight of one token in sample i: 1 for "sum", 1/|M_i| for "mean" (0 when M_i is empty). */
export function tokenWeights(f: FillIns, reduction: TokenReduction): Float64Array {
  if (!TOKEN_REDUCTIONS.includes(reduction)) {
    throw new Error(`token reduction is ${JSON.stringify(reduction)}; expected one of ${TOKEN_REDUCTIONS.join(", ")}`);
  }
  const { batchSize: B, seqLen: T } = f;
  const w = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    if (reduction === "sum") {
      w[i] = 1;
      continue;
    }
    let m = 0;
    for (let t = 0; t < T; t++) m += f.mask[i * T + t] ? 1 : 0;
    w[i] = m > 0 ? 1 / m : 0;
  }
  return w;
}
