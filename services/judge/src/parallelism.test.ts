import { test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { cpuBudget, resolveParallelism } from "./parallelism.ts";

test("the CPU budget honours a cgroup v2 quota and ignores 'max'", () => {
  const cpus = availableParallelism();
  assert.equal(cpuBudget(null), cpus);
  assert.equal(cpuBudget("max 100000\n"), cpus);
  assert.equal(cpuBudget("50000 100000\n"), 1, "half a CPU rounds up to one session");
  assert.equal(cpuBudget("150000 100000"), Math.min(cpus, 2));
  assert.equal(cpuBudget(`${(cpus + 8) * 100000} 100000`), cpus, "a quota above the cores changes nothing");
});

test("auto: one single-threaded session per CPU on cpu, one session on cuda; given values are kept", () => {
  assert.deepEqual(resolveParallelism({ sessions: 0, threads: 0 }, "cpu", 4), {
    sessions: 4,
    threads: 1,
    auto: { sessions: true, threads: true },
  });
  assert.deepEqual(resolveParallelism({ sessions: 1, threads: 0 }, "cpu", 4), {
    sessions: 1,
    threads: 4,
    auto: { sessions: false, threads: true },
  });
  assert.deepEqual(resolveParallelism({ sessions: 3, threads: 0 }, "cpu", 4), {
    sessions: 3,
    threads: 1,
    auto: { sessions: false, threads: true },
  });
  assert.deepEqual(resolveParallelism({ sessions: 0, threads: 2 }, "cpu", 8), {
    sessions: 8,
    threads: 2,
    auto: { sessions: true, threads: false },
  });
  assert.deepEqual(resolveParallelism({ sessions: 0, threads: 0 }, "cuda", 8), {
    sessions: 1,
    threads: 8,
    auto: { sessions: true, threads: true },
  });
});
