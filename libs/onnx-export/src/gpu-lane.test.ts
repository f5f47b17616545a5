import { test } from "node:test";
import assert from "node:assert/strict";
import { onGpuLane } from "./gpu-lane.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("WebGPU work takes turns in call order, a failure does not block the next; CPU work does not wait", async () => {
  const events: string[] = [];
  const job =
    (name: string, ms: number, fail = false) =>
    async () => {
      events.push(`${name} start`);
      await tick(ms);
      events.push(`${name} end`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    };
  const a = onGpuLane("webgpu", job("a", 30));
  const b = onGpuLane("webgpu", job("b", 5, true));
  const c = onGpuLane("webgpu", job("c", 5));
  const cpu = onGpuLane("cpu", job("cpu", 1));
  assert.equal(await cpu, "cpu");
  await assert.rejects(b, /b failed/);
  assert.deepEqual(await Promise.all([a, c]), ["a", "c"]);
  assert.deepEqual(events, ["cpu start", "a start", "cpu end", "a end", "b start", "b end", "c start", "c end"]);
});
