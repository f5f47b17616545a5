import { test } from "node:test";
import assert from "node:assert/strict";
import { createMetrics, startMetricsServer, Gauge } from "./index.ts";

test("call observations become success/failure counters and a latency histogram on /metrics", async () => {
  const m = createMetrics("judge", { defaultMetrics: false });
  m.observeCall({ service: "s", method: "Score", code: 0, seconds: 0.002 });
  m.observeCall({ service: "s", method: "Score", code: 0, seconds: 0.004 });
  m.observeCall({ service: "s", method: "Score", code: 3, seconds: 0.001 });
  const info = new Gauge({ name: "judge_model_info", help: "x", labelNames: ["model", "version"], registers: [m.registry] });
  info.set({ model: "j", version: "v1" }, 1);
  const server = await startMetricsServer({ port: 0, host: "127.0.0.1", registry: m.registry });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /judge_request_success_total\{method="Score"\} 2/);
    assert.match(text, /judge_request_failure_total\{method="Score",code="INVALID_ARGUMENT"\} 1/);
    assert.match(text, /judge_request_duration_seconds_count\{method="Score"\} 3/);
    assert.match(text, /judge_model_info\{model="j",version="v1"\} 1/);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/nope`)).status, 404);
  } finally {
    await server.close();
  }
});

test("bad prefixes are refused", () => {
  assert.throws(() => createMetrics("Bad-Prefix"), /must match/);
});

test("only counters end in _total (Prometheus's convention; promtool check metrics flags the rest), and the process metrics stay", async () => {
  const m = createMetrics("svc");
  const metrics = await m.registry.getMetricsAsJSON();
  const misnamed = metrics.filter((x) => x.name.endsWith("_total") && String(x.type) !== "counter").map((x) => `${x.name} (${x.type})`);
  assert.deepEqual(misnamed, []);
  const names = metrics.map((x) => x.name);
  for (const kept of ["svc_nodejs_active_handles", "svc_nodejs_active_requests", "svc_process_cpu_seconds_total", "svc_nodejs_heap_size_used_bytes"]) {
    assert.ok(names.includes(kept), `${kept} is missing`);
  }
});
