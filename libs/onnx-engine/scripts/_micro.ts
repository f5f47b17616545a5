import * as ort from "onnxruntime-node";
import { readFileSync, readdirSync, unlinkSync } from "node:fs";
import { Tape, type Value } from "../src/autodiff.ts";
const threads = Number(process.env.THREADS ?? 1);
async function bench(name: string, shapes: number[][], build: (t: Tape, xs: Value[]) => Value, flop: number) {
  const t = new Tape();
  const xs = shapes.map((s, i) => t.input(`x${i}`, "float32", s));
  const y = build(t, xs);
  t.output(t.reduceSum(t.reshape(y, [y.shape.reduce((a, b) => a * b, 1)]), [0], false), "y");
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
  const kt = prof.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time") && e.args.op_name !== "ReduceSum");
  const per = new Map<string, number[]>();
  for (const e of kt) (per.get(e.name) ?? per.set(e.name, []).get(e.name)!).push(e.dur / 1000);
  let total = 0;
  for (const ds of per.values()) total += ds.sort((a, b) => a - b)[Math.floor(ds.length / 2)]!;
  unlinkSync(file);
  console.log(`${name.padEnd(50)} ${total.toFixed(2)} ms  ${(flop / total / 1e6).toFixed(1)} GFLOP/s   (${[...new Set(kt.map((e) => e.args.op_name))].join(",")})`);
}
const B = 16, H = 8, T = 256, dh = 32;
const f = 2 * B * H * T * T * dh;
await bench("QK^T 4D [B,H,T,dh]@[B,H,dh,T]", [[B, H, T, dh], [B, H, dh, T]], (t, [a, b]) => t.matMul(a!, b!), f);
await bench("QK^T 3D [BH,T,dh]@[BH,dh,T]", [[B * H, T, dh], [B * H, dh, T]], (t, [a, b]) => t.matMul(a!, b!), f);
await bench("QK^T 3D transB [BH,T,dh]@[BH,T,dh]^T", [[B * H, T, dh], [B * H, T, dh]], (t, [a, b]) => t.matMul(a!, t.transpose(b!, [0, 2, 1])), f);
await bench("PV 4D [B,H,T,T]@[B,H,T,dh]", [[B, H, T, T], [B, H, T, dh]], (t, [a, b]) => t.matMul(a!, b!), f);
await bench("PV 3D", [[B * H, T, T], [B * H, T, dh]], (t, [a, b]) => t.matMul(a!, b!), f);
await bench("dV = P^T dctx (transA)", [[B * H, T, T], [B * H, T, dh]], (t, [a, b]) => t.matMul(t.transpose(a!, [0, 2, 1]), b!), f);
await bench("Gemm [4096,256]@[256,1024]", [[4096, 256], [256, 1024]], (t, [a, b]) => t.matMul(a!, b!), 2 * 4096 * 256 * 1024);
await bench("Mul [4096,1024]^2", [[4096, 1024], [4096, 1024]], (t, [a, b]) => t.mul(a!, b!), 4096 * 1024);
await bench("Softmax [B,H,T,T]", [[B, H, T, T]], (t, [a]) => t.softmax(a!), B * H * T * T);
