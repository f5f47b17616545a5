import * as ort from "onnxruntime-node";
import { buildAdamWGraph, ADAMW_SCALARS, adamwNames } from "../src/index.ts";
const P = Number(process.argv[2] ?? 829003), Pd = Math.floor(P * 0.9);
const s = await ort.InferenceSession.create(buildAdamWGraph({ decayed: Pd, other: P - Pd }), { graphOptimizationLevel: "all", intraOpNumThreads: Number(process.env.THREADS ?? 2), enableMemPattern: false, enableProfiling: !!process.env.PROF, profileFilePrefix: "/tmp/oe/prof" } as any);
const bufs = Array.from({ length: 7 }, () => Float32Array.from({ length: P }, () => Math.random()));
for (let r = 0; r < 6; r++) {
  const feeds: Record<string, ort.Tensor> = {}; const fetches: Record<string, ort.Tensor> = {};
  for (const n of ADAMW_SCALARS) feeds[n] = new ort.Tensor("float32", Float32Array.of(0.5), []);
  for (const g of ["decayed", "other"] as const) {
    const nm = adamwNames(g); const part = (b: Float32Array) => { const x = g === "decayed" ? b.subarray(0, Pd) : b.subarray(Pd); return new ort.Tensor("float32", x, [x.length]); };
    feeds[nm.param] = part(bufs[0]!); feeds[nm.m] = part(bufs[1]!); feeds[nm.v] = part(bufs[2]!); feeds[nm.grad] = part(bufs[3]!);
    fetches[nm.newParam] = part(bufs[4]!); fetches[nm.newM] = part(bufs[5]!); fetches[nm.newV] = part(bufs[6]!);
  }
  const t0 = performance.now(); await s.run(feeds, process.env.NOFETCH ? undefined : fetches); console.log("adamw ms", (performance.now() - t0).toFixed(2));
}
if (process.env.PROF) (s as any).endProfiling();
