import * as ort from "onnxruntime-node";
import { readFileSync, unlinkSync } from "node:fs";
import { defaultGeneratorConfig, expectedTensorShapes } from "@grpomesh/model/format";
import { buildTrainGraph, buildForwardGraph, TRAIN_INPUTS as I } from "../src/index.ts";
const vocab = ["[PAD]", "[MASK]", ...Array.from({ length: 73 }, (_, i) => String.fromCharCode(33 + i))];
const config = defaultGeneratorConfig(vocab, { n_layer: 6, d_model: 256, n_head: 8, d_ff: 1024, seq_len: 256 });
const B = Number(process.argv[2] ?? 16), T = 256, k = 8, V = 75;
const which = process.argv[3] ?? "train";
const model = which === "train" ? buildTrainGraph(config, { batch: B, seqLen: T, groupSize: k, kl: "exact", klInLoss: true, ppo: false, embedding: (process.argv[4] ?? "gather") as any }) : buildForwardGraph(config, B, T);
const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: "all", intraOpNumThreads: Number(process.env.THREADS ?? 2), enableProfiling: !process.env.NOPROF, enableMemPattern: process.env.MEMPAT !== "0", enableCpuMemArena: process.env.ARENA !== "0", profileFilePrefix: "/tmp/oe/prof", optimizedModelFilePath: "/tmp/oe/opt.onnx" } as any);
const feeds: Record<string, ort.Tensor> = {};
for (const [n, sh] of expectedTensorShapes(config)) feeds[n] = new ort.Tensor("float32", Float32Array.from({ length: sh.reduce((a, b) => a * b, 1) }, () => (Math.random() - 0.5) * 0.04), sh);
feeds.ids = new ort.Tensor("int64", BigInt64Array.from({ length: B * T }, () => BigInt(2 + Math.floor(Math.random() * 70))), [B, T]);
if (which === "train") {
const f = (d: Float32Array, dims: number[]) => new ort.Tensor("float32", d, dims);
feeds[I.temperature] = f(Float32Array.of(0.8), []);
feeds[I.bannedKeep] = f(new Float32Array(V).fill(1), [V]);
feeds[I.bannedAdd] = f(new Float32Array(V), [V]);
feeds[I.completionIds] = new ort.Tensor("int64", BigInt64Array.from({ length: B * T * k }, () => BigInt(Math.floor(Math.random() * 70))), [B, T, k]);
feeds[I.tokenWeight] = f(Float32Array.from({ length: B * T }, () => (Math.random() < 0.15 ? 1 : 0)), [B, T, 1]);
feeds[I.advantages] = f(Float32Array.from({ length: B * k }, () => Math.random() - 0.5), [B, k]);
feeds[I.sampleCount] = f(Float32Array.of(B * k), []);
feeds[I.klBeta] = f(Float32Array.of(0.1), []);
feeds[I.refLogProbs] = f(new Float32Array(B * T * V).fill(-4.3), [B, T, V]);
}
for (let r = 0; r < Number(process.env.RUNS ?? 2); r++) { const t0 = performance.now(); await s.run(feeds); console.log("run s", ((performance.now() - t0) / 1000).toFixed(3)); }
(s as any).endProfiling();
await s.release();
