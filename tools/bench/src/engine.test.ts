// bench engine: FLOP arithmetic and tables (no timing assertions), and one tiny-model
// measurement on each engine that proves the forward and the training step really ran.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaults } from "@grpomesh/config";
import { DEFAULT_MASKING, MaskedBatchStream, loadCorpus } from "@grpomesh/data";
import { createTrainingBackend, type TrainingBackend } from "@grpomesh/role-engines";
import { defaultGeneratorConfig, loadConfig, type ModelConfig } from "@grpomesh/model/format";
import {
  AUTO_MICRO_BATCH,
  batchFlops,
  formatSizeReport,
  gflopPerSecond,
  goalLines,
  grpoBatch,
  measureEngine,
  noiseLine,
  resultsJson,
  seededWeights,
  sizeConfig,
  speedUps,
  type EngineMeasurement,
  type Machine,
  type SizeReport,
} from "./engine.ts";
import { ENGINE_BENCH_SETTINGS } from "./settings.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const GENERATOR = loadConfig(join(ROOT, "models/generator"));

test("FLOPs: a hand-computed tiny case and the reference size", () => {
  const tiny = defaultGeneratorConfig(GENERATOR.vocab.slice(0, 10), { n_layer: 2, d_model: 8, n_head: 2, d_ff: 32, seq_len: 4 });
  // linear 2·(8·24 + 8·8 + 2·8·32) + 8·10 = 1616, attention 2·2·4·8 = 128 multiply-adds per token;
  // ×2 FLOPs each = 3488 per token; B=3, T=4: 12 tokens.
  assert.deepEqual(batchFlops(tiny, 3), { forward: 41856, train: 125568 });
  assert.equal(gflopPerSecond(41856, 0.5), 8.3712e-5);
  assert.ok(Number.isNaN(gflopPerSecond(1, 0)));

  const ref = sizeConfig("reference", GENERATOR);
  assert.deepEqual([ref.n_layer, ref.d_model, ref.n_head, ref.d_ff, ref.seq_len, ref.vocab_size], [6, 256, 8, 1024, 256, 75]);
  // 2·(6·(256·768 + 256·256 + 2·256·1024) + 256·75 + 6·2·256·256) = 11 048 448 per token, × 64·256 tokens.
  const f = batchFlops(ref, 64);
  assert.equal(f.forward, 181_017_772_032);
  assert.equal(f.train, 3 * 181_017_772_032);
  // PyTorch 1.13's 6.9 s training step at this size (2-vCPU VM, OpenBLAS) is the ≈79 GFLOP/s the goal of 80 comes from.
  assert.equal(gflopPerSecond(f.train, 6.9).toFixed(1), "78.7");
  assert.equal(sizeConfig("default", GENERATOR), GENERATOR);
  assert.equal(AUTO_MICRO_BATCH.tfjs.reference, 4);
});

function measurement(forward: number[], train: number[], flops: { forward: number; train: number }): EngineMeasurement {
  const phase = (runs: number[], flop: number) => {
    const sorted = [...runs].sort((a, b) => a - b);
    const median = sorted[sorted.length >> 1]!;
    return { runs_s: runs, warmup_s: [runs[0]!], median_s: median, min_s: sorted[0]!, gflops: flop / median / 1e9 };
  };
  return {
    forward: phase(forward, flops.forward),
    train: { ...phase(train, flops.train), grads_s: train.map((t) => t - 0.5), adamw_s: train.map(() => 0.5) },
    losses: [0.25, 0.125],
    gradNorms: [1, 1],
    microBatch: 64,
    fracZeroStdGroups: 0,
    meanReward: 0.1,
  };
}

test("tables, goals and JSON: medians, GFLOP/s, speed-ups over tfjs, engines that did not start", () => {
  const flops = { forward: 181e9, train: 543e9 };
  const report: SizeReport = {
    size: "reference",
    model: "6 layers, d_model 256",
    batchSize: 64,
    seqLen: 256,
    groupSize: 8,
    parameters: 4_850_000,
    flops,
    engines: [
      { engine: "onnx", description: "onnxruntime cpu, 2 threads", result: measurement([1.0, 1.6, 1.2], [5.0, 6.0, 7.0], flops) },
      { engine: "tfjs", description: "tfjs wasm", result: measurement([18.1], [60.6], flops) },
    ],
  };
  const up = speedUps(report, "onnx");
  assert.equal(up.forward.toFixed(3), (18.1 / 1.2).toFixed(3));
  assert.equal(up.train.toFixed(3), (60.6 / 6).toFixed(3));

  const lines = formatSizeReport(report).split("\n");
  assert.match(lines[0]!, /^size reference: 6 layers, d_model 256; B=64, T=256, k=8; forward 181\.0 GFLOP, training step 543\.0 GFLOP/);
  assert.match(
    lines[1]!,
    /^engine\s+what runs\s+fwd runs\s+fwd s\s+fwd min s\s+fwd GFLOP\/s\s+train runs\s+train s\s+train min s\s+train GFLOP\/s\s+fwd vs tfjs\s+train vs tfjs$/,
  );
  const cells = (prefix: string) => lines.find((l) => l.startsWith(prefix))!.split(/\s{2,}/);
  // onnx: forward median 1.2 s → 150.8 GFLOP/s, min 1.0; train median 6 s → 90.5 GFLOP/s; 15.08× and 10.10× tfjs.
  assert.deepEqual(cells("onnx "), ["onnx", "onnxruntime cpu, 2 threads", "3", "1.200", "1.000", "150.8", "3", "6.000", "5.000", "90.5", "15.08×", "10.10×"]);
  assert.deepEqual(cells("tfjs "), ["tfjs", "tfjs wasm", "1", "18.1", "18.1", "10.0", "1", "60.6", "60.6", "9.0", "1.00×", "1.00×"]);
  assert.ok(
    lines.some((l) => l === "  onnx: training step = lossAndGrads 5.500 s (in 1 call(s) of ≤ 64 inputs) + AdamW 0.500 s; losses 0.2500, 0.1250"),
    lines.join("\n"),
  );

  const goals = goalLines([report]);
  assert.match(goals[0]!, /training step ≥ 80 GFLOP\/s .* forward ≥ 120 GFLOP\/s/);
  assert.equal(goals[1], "  onnx: training step 90.5 (met), forward 150.8 (met) — meets both goals");
  assert.equal(goals[2], "  tfjs: training step 9.0 (not met), forward 10.0 (not met) — does not meet both goals");
  assert.match(goalLines([{ ...report, size: "default" }]).join("\n"), /the reference size was not run/);

  // An engine that could not start is listed with its reason, and speed-ups without tfjs are "—".
  const partial: SizeReport = { ...report, engines: [report.engines[0]!, { engine: "tfjs", problem: "could not start: no wasm here" }] };
  const text = formatSizeReport(partial);
  assert.match(text, /\n {2}tfjs: not measured — could not start: no wasm here/);
  assert.match(text, /\nonnx\s+onnxruntime cpu, 2 threads .* 90\.5\s+—\s+—$/m);
  assert.match(goalLines([partial]).join("\n"), /tfjs: not measured/);

  const machine: Machine = { cpu: "Test CPU", logicalCpus: 2, threads: 2, node: "v20", loadAverage1mAtStart: 1.5, loadAverage1mAtEnd: NaN };
  assert.match(noiseLine(machine), /^timings on this shared 2-core VM are noisy .* load average 1\.50 at the start, NaN at the end/);
  const json = JSON.parse(resultsJson(machine, { ...defaults(ENGINE_BENCH_SETTINGS), json: "r.json" }, [partial], new Date(0)));
  assert.equal(json.time, "1970-01-01T00:00:00.000Z");
  assert.equal(json.machine.loadAverage1mAtEnd, null);
  assert.deepEqual(json.goals_gflops, { train: 80, forward: 120 });
  assert.deepEqual(json.sizes[0].engines[0].result.train.runs_s, [5, 6, 7]);
  assert.deepEqual(json.sizes[0].engines[0].speedup_vs_tfjs, { forward: null, train: null });
  assert.equal(json.sizes[0].engines[1].problem, "could not start: no wasm here");
});

function tinySetup(): { config: ModelConfig; data: ReturnType<MaskedBatchStream["next"]> } {
  const config = defaultGeneratorConfig(GENERATOR.vocab, { n_layer: 1, d_model: 16, n_head: 2, d_ff: 32, seq_len: 16 });
  const corpus = loadCorpus();
  const stream = new MaskedBatchStream({
    ids: corpus.train,
    seqLen: 16,
    batchSize: 3,
    seed: 5,
    masking: DEFAULT_MASKING,
    maskTokenId: corpus.vocab.maskTokenId,
  });
  return { config, data: stream.next() };
}

test("the GRPO batch: k sampled completions at masked positions, group-relative advantages, reference log-probs", async () => {
  const { config, data } = tinySetup();
  const V = config.vocab_size;
  // Logit 3 for the true character, 0 for the rest: p(true) = e^(3/0.8) / (e^(3/0.8) + V − 3) at τ 0.8.
  const logits = new Float32Array(3 * 16 * V);
  for (let p = 0; p < 3 * 16; p++) logits[p * V + data.targets[p]!] = 3;
  const batch = await grpoBatch(config, data, logits, 4, 9);
  const { inputs } = batch;
  const refLogProbs = inputs.refLogProbs as Float32Array;
  const pTrue = Math.exp(3 / 0.8) / (Math.exp(3 / 0.8) + V - 3);
  for (let p = 0; p < 3 * 16; p++) {
    assert.equal(refLogProbs[p * V + config.mask_token_id]! < -1e8, true); // banned
    assert.ok(Math.abs(refLogProbs[p * V + data.targets[p]!]! - Math.log(pTrue)) < 1e-5);
  }
  assert.ok(batch.meanReward > 0.15 && batch.meanReward < 0.65, `mean reward ${batch.meanReward}; expected near ${pTrue.toFixed(2)}`);
  let masked = 0;
  for (let i = 0; i < 3; i++) {
    for (let t = 0; t < 16; t++) {
      const p = i * 16 + t;
      for (let j = 0; j < 4; j++) {
        const a = inputs.completions[(i * 4 + j) * 16 + t]!;
        if (data.mask[p]) assert.ok(a !== config.mask_token_id && a !== config.pad_token_id && a < V);
        else assert.equal(a, data.inputs[p]);
      }
      masked += data.mask[p]!;
    }
  }
  assert.ok(masked > 0);
  const adv = Array.from(inputs.advantages);
  assert.equal(adv.length, 12);
  assert.ok(
    adv.some((a) => a !== 0),
    `advantages ${adv}`,
  );
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(adv.slice(i * 4, i * 4 + 4).reduce((a, b) => a + b, 0)) < 1e-5, `group ${i} is not centred: ${adv}`);
});

test("measureEngine really runs each engine: finite losses that agree, weights that change, runs within the budget", async () => {
  const { config, data } = tinySetup();
  const weights = seededWeights(config, 3);
  const firstLoss: number[] = [];
  for (const engine of ["onnx", "tfjs"] as const) {
    const { backend } = await createTrainingBackend(config, { engine, threads: 1 });
    try {
      assert.equal(backend.engine, engine);
      await backend.setWeights(weights);
      const m = await measureEngine(backend, { config, data, groupSize: 4, microBatch: engine === "tfjs" ? 2 : 0, runs: 2, warmup: 1, budgetS: 0, seed: 4 });
      assert.equal(m.forward.runs_s.length, 2, engine);
      assert.equal(m.train.runs_s.length, 2, engine);
      assert.equal(m.train.grads_s.length, 2, engine);
      assert.ok(m.forward.gflops > 0 && m.train.gflops > 0 && m.train.median_s >= m.train.min_s, engine);
      assert.equal(m.losses.length, 3, engine);
      assert.ok(m.losses.every(Number.isFinite), `${engine} losses ${m.losses}`);
      assert.ok(
        m.gradNorms.every((g) => g > 0),
        `${engine} grad norms ${m.gradNorms}`,
      );
      assert.equal(m.microBatch, engine === "tfjs" ? 2 : 3);
      firstLoss.push(m.losses[0]!);
      const after = await backend.getWeights();
      for (const name of ["head.weight", "blocks.0.attn.qkv.weight", "blocks.0.mlp.fc.weight", "ln_f.weight"]) {
        const before = weights.get(name)!;
        const now = after.get(name)!;
        assert.ok(
          now.some((x, i) => x !== before[i]),
          `${engine}: ${name} did not change after 3 training steps`,
        );
      }
      // A budget already spent: one warm-up (the second is skipped) and one timed run per phase.
      const b = await measureEngine(backend as TrainingBackend, { config, data, groupSize: 4, microBatch: 0, runs: 3, warmup: 2, budgetS: 1e-9, seed: 4 });
      assert.deepEqual([b.forward.warmup_s.length, b.forward.runs_s.length, b.train.warmup_s.length, b.train.runs_s.length], [1, 1, 1, 1], engine);
    } finally {
      await backend.dispose();
    }
  }
  // Same weights and batch (micro-batched or not): the first step's loss is the same on both engines.
  assert.ok(Math.abs(firstLoss[0]! - firstLoss[1]!) < 1e-4, `first losses ${firstLoss}`);
});
