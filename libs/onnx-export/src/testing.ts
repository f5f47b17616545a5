// For tests that run on onnxruntime's WebGPU provider: they need a Vulkan adapter, which a machine
// without a GPU gets from Mesa's software driver (lavapipe; `npm run setup` installs it). Where
// there is none the tests say so and skip — except in CI (CI=true), where they must run, so a CI
// machine that lost its set-up fails instead of passing without them.
import type { TestContext } from "node:test";
import { preferredAdapter, surveyAdapters, type GpuAdapter } from "./gpu-adapter.ts";
import { webgpuProviderBundled } from "./providers.ts";

/** The adapter WebGPU tests run on, or why there is none. */
export function webgpuTestAdapter(): { adapter: GpuAdapter } | { why: string } {
  if (!webgpuProviderBundled()) return { why: "this onnxruntime-node build has no WebGPU provider" };
  const survey = surveyAdapters();
  const adapter = preferredAdapter(survey.adapters);
  return adapter ? { adapter } : { why: survey.why };
}

/**
 * True when the test can run on WebGPU; otherwise skips it with the reason (or, in CI, throws).
 * Use as `if (!needsWebgpu(t)) return;` at the top of the test.
 */
export function needsWebgpu(t: TestContext): boolean {
  const found = webgpuTestAdapter();
  if ("adapter" in found) {
    t.diagnostic(`WebGPU adapter: ${found.adapter.name} (${found.adapter.vendor}, ${found.adapter.kind})`);
    return true;
  }
  const message = `no WebGPU adapter: ${found.why}. Install Mesa's software adapter with \`npm run setup\` (Debian: libvulkan1, mesa-vulkan-drivers from bookworm-backports)`;
  if (process.env.CI === "true") throw new Error(`WebGPU tests must run in CI, but ${message}`);
  t.skip(`SKIPPED (WebGPU): ${message}`);
  return false;
}
