// Which nodes of our graphs onnxruntime's WebGPU provider leaves on the CPU provider, before and
// after the WebGPU lowering (graphLowering("webgpu"): a Gather embedding, LogSoftmax composed of
// ops WebGPU runs). onnxruntime's own assignment, read from its verbose log (graphPlacement). Prints
// the markdown table of docs/engine.md ("WebGPU").
//   node --import tsx libs/onnx-trainer/scripts/placement.ts [--provider=webgpu]
import { readFileSync } from "node:fs";
import { parseCommandLine, setting, z } from "@grpomesh/config";
import type { ModelConfig } from "@grpomesh/model/format";
import { buildForwardGraph } from "@grpomesh/onnx-export/export";
import { graphPlacement, type Placement } from "@grpomesh/onnx-export/placement";
import { resolveExecutionProvider } from "@grpomesh/onnx-export/providers";
import { buildAdamWGraph, buildTrainGraph, graphLowering } from "../src/index.ts";

const { config: o } = parseCommandLine(
  { provider: setting(z.enum(["webgpu", "cuda"]), "webgpu", "the GPU execution provider whose assignment to read") },
  "node --import tsx libs/onnx-trainer/scripts/placement.ts",
);
const selection = resolveExecutionProvider(o.provider);
const providers = selection.sessionProviders;
const root = new URL("../../../", import.meta.url);
const generator = JSON.parse(readFileSync(new URL("models/generator/config.json", root), "utf8")) as ModelConfig;
const before = graphLowering("cpu");
const after = graphLowering(o.provider);
const T = generator.seq_len;

type Graph = { name: string; build: (lowering: typeof before) => Uint8Array; lowered: boolean };
const train = (kl: "k3" | "exact" | "k1", klInLoss: boolean, ppo: boolean) => (l: typeof before) =>
  buildTrainGraph(generator, { kl, klInLoss, ppo, batch: 1, seqLen: T, groupSize: 1, embedding: l.embedding, logSoftmax: l.logSoftmax });
const bundled = (path: string) => () => new Uint8Array(readFileSync(new URL(path, root)));
const graphs: Graph[] = [
  {
    name: "policy and reference forward (sampling, log-probs)",
    build: (l) => buildForwardGraph(generator, { batch: 1, seqLen: T, embedding: l.embedding }),
    lowered: true,
  },
  { name: "training graph, k3 KL in the loss (the default)", build: train("k3", true, false), lowered: true },
  { name: "training graph, exact KL, PPO clipping", build: train("exact", true, true), lowered: true },
  { name: "training graph, k1 KL, β = 0", build: train("k1", false, false), lowered: true },
  { name: "AdamW", build: () => buildAdamWGraph({ decayed: 1000, other: 100 }), lowered: false },
  { name: "bundled judge (models/judge/model.onnx)", build: bundled("models/judge/model.onnx"), lowered: false },
  { name: "Sudoku rule judge (models/sudoku4/judge.onnx)", build: bundled("models/sudoku4/judge.onnx"), lowered: false },
];

function cpuOps(p: Placement): string {
  const ops = new Map<string, number>();
  for (const n of p.cpuNodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
  return ops.size ? [...ops].map(([op, n]) => (n > 1 ? `${op} ×${n}` : op)).join(", ") : "none";
}

console.log(
  `${o.provider} on ${selection.adapter ? `${selection.adapter.name} (${selection.adapter.vendor})` : "its device"}; onnxruntime's node assignment, ${generator.n_layer} layers × d_model ${generator.d_model}, T ${T}\n`,
);
console.log("| graph | nodes on the CPU before | nodes on the CPU after | total nodes after |");
console.log("|---|---|---|---|");
for (const g of graphs) {
  const b = await graphPlacement(g.build(before), providers);
  const a = g.lowered ? await graphPlacement(g.build(after), providers) : b;
  console.log(`| ${g.name} | ${b.byProvider.cpu ?? 0} (${cpuOps(b)}) | ${a.byProvider.cpu ?? 0} (${cpuOps(a)}) | ${a.total} |`);
}
