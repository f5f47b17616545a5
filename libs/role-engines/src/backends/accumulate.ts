// Gradient accumulation over micro-batches on any backend: what an Update computes per epoch, and
// what `npm run bench -- engine` times as a training step. Loads no tensor engine.
import { sliceLossInputs, sumLossValues, type LossInputs, type LossOptions, type LossValues } from "@grpomesh/grpo/loss";
import type { TrainingBackend } from "./types.ts";

/**
 * Σ over micro-batches of `microBatch` inputs (0: the whole batch) of the GRPO loss gradients and
 * values. `options.sampleCount` should be the whole batch's B·k, so the sums equal the whole
 * batch's gradient and values (libs/grpo).
 */
export async function accumulateGradients(
  backend: TrainingBackend,
  ids: Int32Array,
  inputs: LossInputs,
  options: LossOptions,
  temperature: number,
  microBatch: number,
): Promise<{ grads: Map<string, Float32Array>; values: LossValues }> {
  const { batchSize: B, seqLen: T } = inputs;
  const micro = microBatch > 0 ? Math.min(microBatch, B) : B;
  let summed: Map<string, Float32Array> | null = null;
  const parts: LossValues[] = [];
  for (let s = 0; s < B; s += micro) {
    const e = Math.min(B, s + micro);
    const part = s === 0 && e === B ? inputs : sliceLossInputs(inputs, s, e);
    const result = await backend.lossAndGrads(ids.subarray(s * T, e * T), part, options, temperature);
    parts.push(result.values);
    if (!summed) {
      summed = result.grads; // a fresh copy from the backend: safe to add into
      continue;
    }
    for (const [name, g] of result.grads) {
      const acc = summed.get(name);
      if (!acc) summed.set(name, g);
      else for (let i = 0; i < g.length; i++) acc[i]! += g[i]!;
    }
  }
  return { grads: summed ?? new Map(), values: sumLossValues(parts) };
}
