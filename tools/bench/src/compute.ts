// The compute limit of a GRPO step on this machine: the step's FLOPs (from the model configs) and
// the fp32 peak measured here with onnxruntime's own matrix multiply (MLAS), so a step time can be
// read as a multiple of the fastest this machine could do the same arithmetic.
import * as ort from "onnxruntime-node";
import { Tape } from "@grpomesh/autodiff";
import { flopsPerToken, type ModelConfig } from "@grpomesh/model";

export interface StepFlops {
  /** Policy forwards: sampling (B inputs) and the reference's log-probs (B), one per input. */
  sample: number;
  reference: number;
  /** The update: one forward and backward over the B inputs (3× a forward). */
  update: number;
  /** The judge: one forward over the B·k completions. */
  judge: number;
  total: number;
}

/** FLOPs of one GRPO step of B inputs, k completions each, T tokens (flopsPerToken: 2 per multiply-add, training = 3× forward). */
export function stepFlops(policy: ModelConfig, judge: ModelConfig, B: number, k: number, T: number): StepFlops {
  const p = flopsPerToken(policy, T);
  const j = flopsPerToken(judge, T);
  const sample = B * T * p.forward;
  const reference = B * T * p.forward;
  const update = B * T * p.train;
  const judgeFlops = B * k * T * j.forward;
  return { sample, reference, update, judge: judgeFlops, total: sample + reference + update + judgeFlops };
}

/**
 * fp32 GFLOP/s of onnxruntime's MatMul with `threads` intra-op threads: the best over n×n×n
 * products of each size in `sizes` (best of `repeats` runs each, after a warm-up) — the peak the
 * engines' own kernels reach here. 1024 already fills the cores; 2048 reached ≈ 10% more on this
 * machine, so both are tried and the higher counts (a low peak would flatter every ratio to it).
 */
export async function measurePeak(threads: number, sizes: readonly number[] = [1024, 2048], repeats = 8): Promise<number> {
  let peak = 0;
  for (const n of sizes) {
    const t = new Tape();
    const a = t.input("a", "float32", [n, n]);
    const b = t.input("b", "float32", [n, n]);
    t.output(t.matMul(a, b), "c", [n, n]);
    const session = await ort.InferenceSession.create(t.toModel({ graphName: "peak" }), { intraOpNumThreads: threads, logSeverityLevel: 3 });
    try {
      const x = new Float32Array(n * n).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
      const feeds = { a: new ort.Tensor("float32", x, [n, n]), b: new ort.Tensor("float32", x, [n, n]) };
      await session.run(feeds);
      for (let r = 0; r < repeats; r++) {
        const start = performance.now();
        await session.run(feeds);
        peak = Math.max(peak, (2 * n ** 3) / ((performance.now() - start) / 1000) / 1e9);
      }
    } finally {
      await session.release();
    }
  }
  return peak;
}

/** "step X GFLOP in Y s → Z GFLOP/s; the compute limit is L s (peak P GFLOP/s): R× the limit". */
export function computeLine(label: string, flops: StepFlops, stepSeconds: number, peakGflops: number): string {
  const limit = flops.total / 1e9 / peakGflops;
  return (
    `${label}: step ${(flops.total / 1e9).toFixed(1)} GFLOP (sample ${(flops.sample / 1e9).toFixed(1)}, reference ${(flops.reference / 1e9).toFixed(1)}, ` +
    `update ${(flops.update / 1e9).toFixed(1)}, judge ${(flops.judge / 1e9).toFixed(1)}) in ${stepSeconds.toFixed(3)} s → ${(flops.total / 1e9 / stepSeconds).toFixed(0)} GFLOP/s; ` +
    `the fp32 compute limit is ${limit.toFixed(3)} s at the measured peak ${peakGflops.toFixed(0)} GFLOP/s: the step is ${(stepSeconds / limit).toFixed(2)}× the limit`
  );
}
