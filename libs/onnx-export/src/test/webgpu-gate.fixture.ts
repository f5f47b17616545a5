// Run by testing.test.ts in a child process (not a test of its own): one test behind needsWebgpu.
import { test } from "node:test";
import { needsWebgpu } from "../testing.ts";

test("a WebGPU test", (t) => {
  if (!needsWebgpu(t)) return;
  console.log("RAN ON WEBGPU");
});
