import * as ort from "onnxruntime-node";
import { Tape } from "../src/autodiff.ts";
const P = 4843083;
async function time(label: string, model: Uint8Array, feeds: Record<string, ort.Tensor>, fetches?: Record<string, ort.Tensor>) {
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 2, enableMemPattern: false, enableProfiling: !!process.env.PROF, profileFilePrefix: "/tmp/oe/prof" } as any);
  const ts: number[] = [];
  for (let r = 0; r < 7; r++) { const t0 = performance.now(); await s.run(feeds, fetches as any); ts.push(performance.now() - t0); }
  console.log(label.padEnd(40), ts.map((x) => x.toFixed(1)).join(" "));
  if (process.env.PROF) (s as any).endProfiling();
}
const x = Float32Array.from({ length: P }, () => Math.random());
// 4 big inputs, scalar output
{ const t = new Tape(); const xs = [0, 1, 2, 3].map((i) => t.input(`x${i}`, "float32", [P])); let acc = t.reduceSum(xs[0]!, [0], false); t.output(acc, "y");
  const feeds = Object.fromEntries([0, 1, 2, 3].map((i) => [`x${i}`, new ort.Tensor("float32", x, [P])]));
  await time("4 inputs (1 read), scalar out", t.toModel(), feeds); }
{ const t = new Tape(); const a = t.input("x0", "float32", [P]); t.output(t.reduceSum(a, [0], false), "y");
  await time("1 input, scalar out", t.toModel(), { x0: new ort.Tensor("float32", x, [P]) }); }
{ const t = new Tape(); const a = t.input("x0", "float32", [P]); t.output(t.mul(a, 2), "y");
  await time("1 input, 1 big output", t.toModel(), { x0: new ort.Tensor("float32", x, [P]) });
  await time("1 input, 1 big output prealloc", t.toModel(), { x0: new ort.Tensor("float32", x, [P]) }, { y: new ort.Tensor("float32", new Float32Array(P), [P]) }); }
