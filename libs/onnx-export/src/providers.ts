// Which onnxruntime execution provider serves the model. The CPU provider is bundled with
// onnxruntime-node; the CUDA one is a separate download at install time, so check for it first
// and say how to get it instead of letting onnxruntime fail with "Failed to load shared library".
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { InferenceSession } from "onnxruntime-node";
/** onnxruntime execution providers this project uses. */
export type ExecutionProvider = "cpu" | "cuda";

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

/** The session's executionProviders for a choice; throws ExecutionProviderError when it cannot work here. */
export function executionProviders(choice: ExecutionProvider, binDir = onnxruntimeBinDir()): InferenceSession.ExecutionProviderConfig[] {
  if (choice === "cpu") return ["cpu"];
  if (choice === "cuda") {
    if (!cudaProviderInstalled(binDir)) {
      throw new ExecutionProviderError(
        `execution provider "cuda" was requested but this onnxruntime-node has no CUDA provider (${CUDA_LIBRARY} is not in ${binDir}); ` +
          `on a GPU node with CUDA 12 install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 (the container image for GPU nodes does), or run with --execution_provider=cpu`,
      );
    }
    return ["cuda"];
  }
  throw new ExecutionProviderError(`execution provider ${JSON.stringify(choice)} is not supported; expected "cpu" or "cuda"`);
}
