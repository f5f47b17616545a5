// Per-kernel profile of one training (or forward) run, from onnxruntime's own profiler: time by op
// type and by op + input shapes, for the last of a few runs.
//   node --import tsx libs/onnx-trainer/scripts/profile.ts [reference|default] [--batch=B] [--threads=N] [--forward] (--help: every setting)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { parseCommandLine, setting, z } from "@grpomesh/config";
import { defaultGeneratorConfig, expectedTensorShapes } from "@grpomesh/model/format";
import { Rng } from "@grpomesh/rng";
import { TOKENS_INPUT, buildForwardGraph } from "@grpomesh/onnx-export/export";
import { TRAIN_INPUTS as I, buildTrainGraph } from "../src/index.ts";

const { config: o, positional } = parseCommandLine(
  {
    batch: setting(z.int().min(1), 8, "windows per batch"),
    threads: setting(z.int().min(1), 2, "onnxruntime intra-op threads"),
    forward: setting(z.boolean(), false, "profile the forward graph instead of the training graph"),
    runs: setting(z.int().min(1), 3, "runs; the profile is of the last"),
  },
  "node --import tsx libs/onnx-trainer/scripts/profile.ts [reference|default]",
  { maxPositional: 1 },
);
const vocab = ["[PAD]", "[MASK]", ...Array.from({ length: 73 }, (_, i) => String.fromCharCode(33 + i))];
const reference = (positional[0] ?? "reference") === "reference";
const config = reference ? defaultGeneratorConfig(vocab, { n_layer: 6, d_model: 256, n_head: 8, d_ff: 1024, seq_len: 256 }) : defaultGeneratorConfig(vocab);
const B = o.batch,
  T = config.seq_len,
  k = 8,
  V = config.vocab_size;
const model = o.forward
  ? buildForwardGraph(config, { batch: B, seqLen: T })
  : buildTrainGraph(config, { batch: B, seqLen: T, groupSize: k, kl: "exact", klInLoss: true, ppo: false });
const dir = mkdtempSync(join(tmpdir(), "onnx-engine-profile-"));
const session = await ort.InferenceSession.create(model, {
  graphOptimizationLevel: "all",
  intraOpNumThreads: o.threads,
  enableMemPattern: false,
  enableProfiling: true,
  profileFilePrefix: join(dir, "profile"),
});
const rng = new Rng(1);
const f32 = (n: number, f: () => number) => Float32Array.from({ length: n }, f);
const feeds: Record<string, ort.Tensor> = {};
for (const [name, shape] of expectedTensorShapes(config))
  feeds[name] = new ort.Tensor(
    "float32",
    f32(
      shape.reduce((a, b) => a * b, 1),
      () => rng.normal() * 0.02,
    ),
    shape,
  );
feeds[TOKENS_INPUT] = new ort.Tensor(
  "int64",
  BigInt64Array.from({ length: B * T }, () => BigInt(2 + rng.nextInt(V - 2))),
  [B, T],
);
if (!o.forward) {
  feeds[I.temperature] = new ort.Tensor("float32", Float32Array.of(0.8), []);
  feeds[I.bannedKeep] = new ort.Tensor("float32", new Float32Array(V).fill(1), [V]);
  feeds[I.bannedAdd] = new ort.Tensor("float32", new Float32Array(V), [V]);
  feeds.completionIds = new ort.Tensor(
    "int64",
    BigInt64Array.from({ length: B * T * k }, () => BigInt(rng.nextInt(V))),
    [B, T, k],
  );
  feeds.tokenWeight = new ort.Tensor(
    "float32",
    f32(B * T, () => (rng.next() < 0.15 ? 1 : 0)),
    [B, T, 1],
  );
  feeds.advantages = new ort.Tensor(
    "float32",
    f32(B * k, () => rng.normal()),
    [B, k],
  );
  feeds[I.sampleCount] = new ort.Tensor("float32", Float32Array.of(B * k), []);
  feeds[I.klBeta] = new ort.Tensor("float32", Float32Array.of(0.1), []);
  feeds.ref = new ort.Tensor("float32", new Float32Array(B * T * V).fill(-Math.log(V)), [B, T, V]);
}
for (let r = 0; r < o.runs; r++) {
  const t0 = performance.now();
  await session.run(feeds);
  console.log(`run ${r + 1}: ${((performance.now() - t0) / 1000).toFixed(3)} s`);
}
const file = (session as unknown as { endProfiling(): string | undefined }).endProfiling() ?? "";
await session.release();
interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args: { op_name?: string; input_type_shape?: Array<Record<string, number[]>> };
}
const path = file || join(dir, (await import("node:fs")).readdirSync(dir)[0]!);
const events = JSON.parse(readFileSync(path, "utf8")) as ProfileEvent[];
rmSync(dir, { recursive: true, force: true });
const last = events.filter((e) => e.cat === "Session" && e.name === "model_run").pop()!;
const kernels = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time") && e.ts >= last.ts && e.ts <= last.ts + last.dur);
const total = kernels.reduce((s, e) => s + e.dur, 0);
const table = (key: (e: ProfileEvent) => string, rows: number) => {
  const sums = new Map<string, { us: number; n: number }>();
  for (const e of kernels) {
    const entry = sums.get(key(e)) ?? { us: 0, n: 0 };
    entry.us += e.dur;
    entry.n++;
    sums.set(key(e), entry);
  }
  for (const [name, { us, n }] of [...sums].sort((a, b) => b[1].us - a[1].us).slice(0, rows)) {
    console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  n=${String(n).padStart(3)}  ${name}`);
  }
};
console.log(`\nlast run ${(last.dur / 1000).toFixed(1)} ms, kernels ${(total / 1000).toFixed(1)} ms; by op type:`);
table((e) => e.args.op_name ?? "?", 20);
console.log("\nby op and input shapes:");
table((e) => `${e.args.op_name} ${JSON.stringify((e.args.input_type_shape ?? []).map((x) => Object.values(x)[0]))}`, 30);
