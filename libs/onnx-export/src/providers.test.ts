import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GpuAdapter } from "./gpu-adapter.ts";
import {
  cudaProviderInstalled,
  describeSelection,
  ExecutionProviderError,
  onnxruntimeBinDir,
  resolveExecutionProvider,
  webgpuProviderBundled,
  type ProviderProbe,
} from "./providers.ts";

const adapter = (name: string, kind: GpuAdapter["kind"], vendor = "NVIDIA"): GpuAdapter => ({
  name,
  vendor,
  vendorId: 0x10de,
  deviceId: 1,
  kind,
  hardware: kind !== "cpu",
  backend: "Vulkan",
  apiVersion: "1.3.0",
});
const lavapipe = adapter("llvmpipe (LLVM 15.0.6, 256 bits)", "cpu", "Mesa");
const h200 = adapter("NVIDIA H200", "discrete");
const igpu = adapter("Intel(R) Graphics", "integrated", "Intel");
const probe = (o: { cuda?: boolean; webgpu?: boolean; adapters?: GpuAdapter[]; why?: string }): ProviderProbe => ({
  cuda: () => o.cuda ?? false,
  webgpu: () => o.webgpu ?? true,
  adapters: () => ({ adapters: o.adapters ?? [], why: o.adapters?.length ? "" : (o.why ?? "the Vulkan loader (libvulkan.so.1) is not installed") }),
});

test("cpu is always available", () => {
  assert.deepEqual(resolveExecutionProvider("cpu", probe({})).sessionProviders, ["cpu"]);
});

test("auto: CUDA when installed, else WebGPU on a hardware adapter (discrete before integrated), else cpu; a software adapter only when asked for", () => {
  const pick = (o: Parameters<typeof probe>[0]) => resolveExecutionProvider("auto", probe(o));
  assert.equal(pick({ cuda: true, adapters: [h200] }).provider, "cuda");
  const gpu = pick({ adapters: [lavapipe, igpu, h200] });
  assert.equal(gpu.provider, "webgpu");
  assert.deepEqual(gpu.sessionProviders, ["webgpu", "cpu"]);
  assert.equal(gpu.adapter?.name, "NVIDIA H200");
  assert.match(describeSelection(gpu), /^webgpu on NVIDIA H200 \(vendor NVIDIA, discrete adapter, backend Vulkan 1\.3\.0\)$/);
  assert.equal(pick({ adapters: [lavapipe, igpu] }).adapter?.name, "Intel(R) Graphics");
  const soft = pick({ adapters: [lavapipe] });
  assert.equal(soft.provider, "cpu");
  assert.match(soft.reason, /only a software adapter \(llvmpipe.*\), which auto does not take; --execution_provider=webgpu does/);
  const none = pick({});
  assert.equal(none.provider, "cpu");
  assert.match(none.reason, /libvulkan\.so\.1/);
  assert.equal(pick({ webgpu: false, adapters: [h200] }).provider, "cpu");
  assert.equal(resolveExecutionProvider(undefined, probe({ adapters: [h200] })).provider, "webgpu");
});

test("webgpu when asked takes the best adapter, software included, or says what is missing", () => {
  const soft = resolveExecutionProvider("webgpu", probe({ adapters: [lavapipe] }));
  assert.equal(soft.provider, "webgpu");
  assert.equal(soft.adapter?.kind, "cpu");
  assert.equal(resolveExecutionProvider("webgpu", probe({ adapters: [lavapipe, h200] })).adapter?.name, "NVIDIA H200");
  assert.throws(
    () => resolveExecutionProvider("webgpu", probe({ why: "the Vulkan loader found no driver (ICD)" })),
    (e: unknown) =>
      e instanceof ExecutionProviderError && /no GPU adapter was found: the Vulkan loader found no driver/.test(e.message) && /libvulkan1/.test(e.message),
  );
  assert.throws(() => resolveExecutionProvider("webgpu", probe({ webgpu: false, adapters: [h200] })), /has no WebGPU provider/);
  assert.throws(() => resolveExecutionProvider("tpu", probe({})), /execution provider "tpu" is not supported; expected one of auto, cpu, webgpu, cuda/);
});

test("cuda without onnxruntime's CUDA provider libraries fails saying what is missing and what to do", () => {
  assert.throws(
    () => resolveExecutionProvider("cuda", probe({ cuda: false })),
    (e: unknown) =>
      e instanceof ExecutionProviderError &&
      /no CUDA provider/.test(e.message) &&
      /ONNXRUNTIME_NODE_INSTALL=cuda12/.test(e.message) &&
      /--execution_provider=webgpu/.test(e.message),
  );
  assert.deepEqual(resolveExecutionProvider("cuda", probe({ cuda: true })).sessionProviders, ["cuda", "cpu"]);
  const dir = mkdtempSync(join(tmpdir(), "ort-bin-"));
  try {
    assert.equal(cudaProviderInstalled(dir), false);
    if (process.platform === "linux") {
      writeFileSync(join(dir, "libonnxruntime_providers_cuda.so"), "");
      writeFileSync(join(dir, "libonnxruntime_providers_shared.so"), "");
      assert.equal(cudaProviderInstalled(dir), true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the installed onnxruntime-node is probed in its own bin folder, and this build bundles WebGPU on Linux x64", () => {
  assert.match(onnxruntimeBinDir(), /onnxruntime-node\/bin\/napi-v6\//);
  if (process.platform === "linux" && process.arch === "x64") assert.equal(webgpuProviderBundled(), true);
  // Whichever way this machine is set up, the probe and the resolution agree.
  if (cudaProviderInstalled()) assert.equal(resolveExecutionProvider("cuda").provider, "cuda");
  else assert.throws(() => resolveExecutionProvider("cuda"), ExecutionProviderError);
});
