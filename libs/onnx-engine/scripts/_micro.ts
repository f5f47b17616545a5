import * as ort from "onnxruntime-node";
import { readFileSync, readdirSync, unlinkSync } from "node:fs";
import { Tape, type Value } from "../src/autodiff.ts";
const threads = Number(process.env.THREADS ?? 1);
async function bench(name: string, shapes: number[][], build: (t: Tape, xs: Value[]) => Value, flop: number) {
  const t = new Tape();
  const xs = shapes.map((s, i) => t.input(`x${i}`, "float32", s));
  const y = build(t, xs);
  t.output(t.reduceMean(t.reshape(y, [y.shape.reduce((a, b) => a * b, 1)]), [0], false), "y");
  const s = await ort.InferenceSession.create(t.toModel(), { graphOptimizationLevel: "all", intraOpNumThreads: threads, enableProfiling: true, profileFilePrefix: "/tmp/oe/micro" } as any);
  const feeds: Record<string, ort.Tensor> = {};
  shapes.forEach((sh, i) => (feeds[`x${i}`] = new ort.Tensor("float32", Float32Array.from({ length: sh.reduce((a, b) => a * b, 1) }, () => Math.random()), sh)));
  await s.run(feeds);
  const times: number[] = [];
  for (let r = 0; r < 7; r++) { const t0 = performance.now(); await s.run(feeds); times.push(performance.now() - t0); }
  (s as any).endProfiling();
  const file = "/tmp/oe/" + readdirSync("/tmp/oe").filter((f) => f.startsWith("micro")).sort().pop()!;
  await s.release();
  const prof = JSON.parse(readFileSync(file, "utf8")) as Array<{ cat: string; name: string; dur: number; args: { op_name?: string } }>;
  const kt = prof.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time") && e.args.op_name !== "ReduceMean");
  const per = new Map<string, number[]>();
  for (const e of kt) (per.get(e.name) ?? per.set(e.name, []).get(e.name)!).push(e.dur / 1000);
  let total = 0;
  for (const ds of per.values()) total += ds.sort((a, b) => a - b)[Math.floor(ds.length / 2)]!;
  unlinkSync(file);
  console.log(`${name.padEnd(50)} ${total.toFixed(2)} ms  ${(flop / total / 1e6).toFixed(1)} GFLOP/s   (${[...new Set(kt.map((e) => e.args.op_name))].join(",")})`);
}
const which = process.argv[2] ?? "reduce";
if (which === "reduce") {
  for (const [N, F] of [[16384, 1024], [16384, 256], [4096, 1024]] as const) {
    await bench(`ReduceSum axis0 [${N},${F}]`, [[N, F]], (t, [a]) => t.reduceSum(a!, [0], false), N * F);
    await bench(`ones@x [${N},${F}]`, [[N, F]], (t, [a]) => t.matMul(t.constant(new Float32Array(N).fill(1), [1, N]), a!), N * F);
    await bench(`ReduceSum reshaped [${N / 64},64,${F}] axes 0,1`, [[N, F]], (t, [a]) => t.reduceSum(t.reshape(a!, [N / 64, 64, F]), [0, 1], false), N * F);
  }
}
