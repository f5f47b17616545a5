// Which onnxruntime execution provider serves a model: the one setting policy, reference and
// judge share. The CPU provider is bundled with onnxruntime-node, and so is the WebGPU one (Dawn, on
// Vulkan) for Linux x64; the CUDA one is a separate download at install time. So check for each
// before asking onnxruntime, and say how to get it instead of letting it fail with "Failed to load
// shared library". A light module: no onnxruntime is loaded until a provider is resolved.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setting, z } from "@grpomesh/config";
import { describeAdapter, preferredAdapter, surveyAdapters, type AdapterSurvey, type GpuAdapter } from "./gpu-adapter.ts";

/** onnxruntime execution providers this project runs on. */
export const EXECUTION_PROVIDERS = ["cpu", "webgpu", "cuda"] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
export const EXECUTION_PROVIDER_CHOICES = ["auto", ...EXECUTION_PROVIDERS] as const;
export type ExecutionProviderChoice = (typeof EXECUTION_PROVIDER_CHOICES)[number];

/** The `execution_provider` setting of policy, reference and judge. */
export const EXECUTION_PROVIDER_SETTING = setting(
  z.enum(EXECUTION_PROVIDER_CHOICES),
  "auto",
  "onnxruntime execution provider: auto = CUDA when installed, else WebGPU on a hardware GPU adapter (Vulkan), else cpu; webgpu also takes a software adapter (docs/engine.md)",
);

export class ExecutionProviderError extends Error {
  override name = "ExecutionProviderError";
}

/** The folder holding onnxruntime-node's native libraries for this platform. */
export function onnxruntimeBinDir(): string {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve("onnxruntime-node/package.json"));
  return join(pkgDir, "bin", "napi-v6", process.platform, process.arch);
}

const CUDA_LIBRARY = "libonnxruntime_providers_cuda.so";

/** True when onnxruntime-node was installed with its CUDA provider libraries (Linux x64 only). */
export function cudaProviderInstalled(binDir = onnxruntimeBinDir()): boolean {
  return process.platform === "linux" && existsSync(join(binDir, CUDA_LIBRARY)) && existsSync(join(binDir, "libonnxruntime_providers_shared.so"));
}

/** True when this onnxruntime-node build carries the WebGPU provider (Linux x64 and others: its listSupportedBackends says). */
export function webgpuProviderBundled(): boolean {
  try {
    const ort = createRequire(import.meta.url)("onnxruntime-node") as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> };
    return (ort.listSupportedBackends?.() ?? []).some((b) => b.name === "webgpu" && b.bundled);
  } catch {
    return false;
  }
}

/** What resolving a choice looks at; tests pass their own. */
export interface ProviderProbe {
  cuda(): boolean;
  webgpu(): boolean;
  adapters(): AdapterSurvey;
}

export const SYSTEM_PROBE: ProviderProbe = { cuda: () => cudaProviderInstalled(), webgpu: webgpuProviderBundled, adapters: () => surveyAdapters() };

export interface ProviderSelection {
  provider: ExecutionProvider;
  /** For InferenceSession's executionProviders: the provider, then the CPU for nodes it has no kernel for. */
  sessionProviders: ExecutionProvider[];
  /** Why this one, for start lines. */
  reason: string;
  /** The GPU adapter that serves, when the provider is webgpu. */
  adapter?: GpuAdapter;
}

/** One line for start lines: `webgpu on llvmpipe (vendor Mesa, software adapter, backend Vulkan 1.4.305)`. */
export function describeSelection(s: ProviderSelection): string {
  return s.adapter ? `${s.provider} on ${describeAdapter(s.adapter)}` : s.provider;
}

const CUDA_HOWTO =
  "on a GPU node with CUDA 12 install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 (a download), or use --execution_provider=webgpu (bundled; needs a Vulkan driver)";

/** Resolves the `execution_provider` setting; throws ExecutionProviderError when the asked-for one cannot run here. */
export function resolveExecutionProvider(choice: string | undefined, probe: ProviderProbe = SYSTEM_PROBE): ProviderSelection {
  const asked = (choice || "auto") as ExecutionProviderChoice;
  if (!EXECUTION_PROVIDER_CHOICES.includes(asked)) {
    throw new ExecutionProviderError(
      `execution provider ${JSON.stringify(String(choice).slice(0, 40))} is not supported; expected one of ${EXECUTION_PROVIDER_CHOICES.join(", ")}`,
    );
  }
  const cpu: ProviderSelection = { provider: "cpu", sessionProviders: ["cpu"], reason: "asked for --execution_provider=cpu" };
  if (asked === "cpu") return cpu;
  if (asked === "cuda") {
    if (!probe.cuda())
      throw new ExecutionProviderError(
        `execution provider "cuda" was requested but this onnxruntime-node has no CUDA provider (${CUDA_LIBRARY} is not installed); ${CUDA_HOWTO}`,
      );
    return { provider: "cuda", sessionProviders: ["cuda", "cpu"], reason: "asked for --execution_provider=cuda" };
  }
  const webgpu = (reason: string, adapter: GpuAdapter): ProviderSelection => ({ provider: "webgpu", sessionProviders: ["webgpu", "cpu"], reason, adapter });
  if (asked === "webgpu") {
    if (!probe.webgpu())
      throw new ExecutionProviderError(
        `execution provider "webgpu" was requested but this onnxruntime-node build has no WebGPU provider (it is bundled for Linux x64)`,
      );
    const survey = probe.adapters();
    const adapter = preferredAdapter(survey.adapters);
    if (!adapter) {
      throw new ExecutionProviderError(
        `execution provider "webgpu" was requested but no GPU adapter was found: ${survey.why}. On a GPU node: the driver's Vulkan support and Debian's libvulkan1 (deploy/README.md); for a software adapter: mesa-vulkan-drivers (npm run setup)`,
      );
    }
    return webgpu("asked for --execution_provider=webgpu", adapter);
  }
  // auto
  if (probe.cuda()) return { provider: "cuda", sessionProviders: ["cuda", "cpu"], reason: "auto: onnxruntime's CUDA provider is installed" };
  if (probe.webgpu()) {
    const survey = probe.adapters();
    const hardware = preferredAdapter(survey.adapters.filter((a) => a.hardware));
    if (hardware) return webgpu("auto: a hardware GPU adapter is present", hardware);
    const software = preferredAdapter(survey.adapters);
    const why = software ? `only a software adapter (${software.name}), which auto does not take; --execution_provider=webgpu does` : survey.why;
    return { ...cpu, reason: `auto: no hardware GPU adapter for WebGPU (${why}) and no CUDA provider` };
  }
  return { ...cpu, reason: "auto: this onnxruntime-node has neither a CUDA nor a WebGPU provider" };
}
