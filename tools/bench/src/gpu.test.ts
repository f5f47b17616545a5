import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSettings } from "@grpomesh/config";
import { formatGpuMarkdown, formatGpuReport, type GpuSizeReport } from "./gpu.ts";
import { GPU_BENCH_SETTINGS } from "./settings.ts";
import type { Placement } from "@grpomesh/onnx-export/placement";

const onGpu = (total: number): Placement => ({ total, byProvider: { webgpu: total }, cpuNodes: [] });

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

test("the markdown table: the adapter first, a row per size and provider, the nodes left on the CPU counted", () => {
  const size = (name: "default" | "reference", cpuStep: number, gpuStep: number, placements: Record<string, Placement>): GpuSizeReport => ({
    size: name,
    model: `${name} model`,
    engineBatch: 16,
    stepBatch: 16,
    groupSize: 8,
    judge: "j",
    results: [
      {
        provider: "cpu",
        serves: "cpu",
        judge_seq_per_s: 400,
        train_s: 0.4,
        step_ms: cpuStep,
        phases_ms: { sample_ms: 1, judge_ms: 2, reference_ms: 0, update_ms: 3 },
      },
      { provider: "webgpu", serves: "webgpu on G", placements, judge_seq_per_s: 1200, train_s: 0.1, step_ms: gpuStep },
    ],
  });
  const text = formatGpuMarkdown("NVIDIA H200 (vendor NVIDIA, backend Vulkan 1.3)", [
    size("default", 300, 100, {
      forward: onGpu(118),
      train: { total: 508, byProvider: { webgpu: 507, cpu: 1 }, cpuNodes: [{ op: "Reshape", name: "r" }] },
      adamw: onGpu(31),
    }),
    size("reference", 4000, 500, { forward: onGpu(140), train: onGpu(509) }),
  ]);
  const lines = text.split("\n");
  assert.equal(lines[0], "Adapter: NVIDIA H200 (vendor NVIDIA, backend Vulkan 1.3)");
  assert.equal(lines[2], "| size | provider | judge seq/s | training step s | GRPO step s | sample / judge / ref / update ms | nodes on the CPU |");
  assert.equal(lines[3], "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  assert.equal(lines[4], "| default | cpu | 400 (1.00×) | 0.400 (1.00×) | 0.300 (1.00×) | 1 / 2 / 0 / 3 |  |");
  assert.equal(lines[5], "| default | webgpu | 1200 (3.00×) | 0.100 (4.00×) | 0.100 (3.00×) | — | train 1/508 (Reshape) |");
  assert.equal(lines[7], "| reference | webgpu | 1200 (3.00×) | 0.100 (4.00×) | 0.500 (8.00×) | — | 0 |");
  assert.match(text, /\n- reference: reference model; engine batch B=16, GRPO step B=16 k=8; judge j$/);
  const failed = formatGpuMarkdown("none (no Vulkan loader)", [{ ...size("default", 1, 1, {}), results: [{ provider: "cuda", problem: "no CUDA provider" }] }]);
  assert.match(failed, /\| default \| cuda \| — \| — \| — \| — \| not measured: no CUDA provider \|/);
});
