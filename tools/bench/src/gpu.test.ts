import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSettings } from "@grpomesh/config";
import { formatGpuReport, type GpuSizeReport } from "./gpu.ts";
import { GPU_BENCH_SETTINGS } from "./settings.ts";

test("the gpu bench's settings: providers and sizes are checked lists", () => {
  const parse = (argv: string[]) => parseSettings(GPU_BENCH_SETTINGS, { argv, env: {} }).config;
  assert.equal(parse([]).providers, "cpu,webgpu");
  assert.equal(parse(["--providers=cpu,cuda", "--sizes=reference"]).sizes, "reference");
  assert.throws(() => parse(["--providers=cpu,tpu"]), /a comma list of cpu, webgpu, cuda/);
});

test("the gpu report: one row per provider, speed-ups over the first, placement and problems below", () => {
  const report: GpuSizeReport = {
    size: "default",
    model: "4 layers",
    engineBatch: 16,
    stepBatch: 16,
    groupSize: 8,
    judge: "j",
    results: [
      {
        provider: "cpu",
        serves: "cpu",
        judge_seq_per_s: 500,
        train_s: 0.2,
        forward_s: 0.05,
        step_ms: 400,
        phases_ms: { sample_ms: 40, judge_ms: 180, reference_ms: 0, update_ms: 130 },
      },
      {
        provider: "webgpu",
        serves: "webgpu on G",
        placement: "forward: all 118 nodes on webgpu",
        judge_seq_per_s: 5000,
        train_s: 0.05,
        forward_s: 0.01,
        step_ms: 100,
        phases_ms: { sample_ms: 10, judge_ms: 20, reference_ms: 0, update_ms: 50 },
      },
      { provider: "cuda", problem: "no CUDA provider" },
    ],
  };
  const text = formatGpuReport(report);
  assert.match(text, /^size default: 4 layers; engine batch B=16, GRPO step B=16 k=8; judge j/);
  assert.match(text, /webgpu +webgpu on G +5000 \(10\.00×\) +0\.050 \(4\.00×\) +0\.010 \(5\.00×\) +0\.100 \(4\.00×\) +10 \/ 20 \/ 0 \/ 50/);
  assert.match(text, /cuda +— +— +— +— +— +—/);
  assert.match(text, /webgpu placement: forward: all 118 nodes on webgpu/);
  assert.match(text, /cuda: no CUDA provider/);
});
