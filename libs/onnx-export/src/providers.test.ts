import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cudaProviderInstalled, executionProviders, ExecutionProviderError, onnxruntimeBinDir } from "./providers.ts";

test("cpu is always available", () => {
  assert.deepEqual(executionProviders("cpu"), ["cpu"]);
});

test("cuda without onnxruntime's CUDA provider libraries fails saying what is missing and what to do", () => {
  const dir = mkdtempSync(join(tmpdir(), "ort-bin-"));
  try {
    assert.throws(
      () => executionProviders("cuda", dir),
      (e: unknown) =>
        e instanceof ExecutionProviderError &&
        e.message.includes(`libonnxruntime_providers_cuda.so is not in ${dir}`) &&
        /ONNXRUNTIME_NODE_INSTALL=cuda12/.test(e.message) &&
        /--execution_provider=cpu/.test(e.message),
    );
    if (process.platform === "linux") {
      writeFileSync(join(dir, "libonnxruntime_providers_cuda.so"), "");
      writeFileSync(join(dir, "libonnxruntime_providers_shared.so"), "");
      assert.deepEqual(executionProviders("cuda", dir), ["cuda"]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the installed onnxruntime-node is probed in its own bin folder", () => {
  assert.match(onnxruntimeBinDir(), /onnxruntime-node\/bin\/napi-v6\//);
  // Whichever way this machine is set up, the probe and the provider list agree.
  if (cudaProviderInstalled()) assert.deepEqual(executionProviders("cuda"), ["cuda"]);
  else assert.throws(() => executionProviders("cuda"), ExecutionProviderError);
});
