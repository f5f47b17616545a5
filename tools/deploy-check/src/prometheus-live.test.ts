// A real Prometheus (Debian's) scrapes a real local stack while it trains (`npm start` on the
// default task): every service's /metrics passes `promtool check metrics`, the alert rules load in
// the server, and every query of the Grafana dashboard returns data.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JudgeService } from "@grpomesh/proto";
import { createClient, loadSecurity } from "@grpomesh/rpc";
import { dashboardQueries } from "./dashboard.ts";
import { needsPrometheus, promtool } from "./test/prometheus.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGINT");
  });
}

test("a real Prometheus scraping a training stack: clean metrics, the alert rules load, every dashboard query has data", { timeout: 300_000 }, async (t) => {
  if (!needsPrometheus(t, ["promtool", "prometheus"])) return;
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-prometheus-"));
  let stack: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  const output: string[] = [];
  try {
    const runDir = join(dir, "run");
    const runConfig = join(dir, "run.json");
    // long enough to be scraped for a while; stopped by the test
    writeFileSync(
      runConfig,
      JSON.stringify({ task: "sudoku", max_iters: 100000, eval_interval: 10, eval_batches: 2, sample_interval: 0, checkpoint_interval: 0 }),
    );
    stack = spawn(process.execPath, ["--import", "tsx", "tools/launcher/src/main.ts", `--run_config=${runConfig}`, `--run_dir=${runDir}`, "--progress=log"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    stack.stdout!.on("data", (c: Buffer) => output.push(c.toString()));
    stack.stderr!.on("data", (c: Buffer) => output.push(c.toString()));
    const stackFile = join(runDir, "stack.json");
    const services = await until(
      "the stack's stack.json",
      () =>
        existsSync(stackFile)
          ? (JSON.parse(readFileSync(stackFile, "utf8")) as {
              services: Record<string, { address: string; metrics: number }>;
              tls_dir: string;
              admin_token_file: string;
            })
          : undefined,
      180_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${output.join("").slice(-3000)}`);
    });
    const targets = Object.entries(services.services);

    // every service's exposition is clean, and docs/metrics.md documents exactly what they export
    const documented = new Map(
      [...readFileSync(join(ROOT, "docs/metrics.md"), "utf8").matchAll(/^\| `([a-z_]+)` \| (gauge|counter|histogram) \|/gm)].map((m) => [m[1]!, m[2]!]),
    );
    const exported = new Map<string, string>();
    for (const [name, s] of targets) {
      const text = await until(
        `${name}'s /metrics`,
        async () => {
          const r = await fetch(`http://127.0.0.1:${s.metrics}/metrics`);
          return r.ok ? r.text() : undefined;
        },
        60_000,
      );
      const lint = promtool(["check", "metrics"], ROOT, text);
      assert.equal(lint.status, 0, `promtool check metrics on ${name}:\n${lint.out}`);
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        // the process, Node.js and RPC metrics every service has are documented as a group
        if (!/^(judge|policy|reference|orchestrator)_(process_|nodejs_|request_(success_total|failure_total|duration_seconds)$)/.test(m[1]!))
          exported.set(m[1]!, m[2]!);
      }
    }
    assert.deepEqual([...exported].sort(), [...documented].sort(), "docs/metrics.md's table (name, type) differs from what the services export");

    // one failing Score per judge, so "failures by code" has a series
    const security = loadSecurity({ tlsDir: services.tls_dir });
    for (const [name, s] of targets.filter(([n]) => n.startsWith("judge"))) {
      const client = createClient(JudgeService, s.address, { deadlineMs: 5_000, security });
      await assert.rejects(client.score({}), `${name} accepted a Score without tokens (port ${s.metrics})`);
      client.close();
    }

    const port = await freePort();
    const config = {
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: [join(ROOT, "deploy/prometheus/alerts.yaml")],
      scrape_configs: [
        {
          job_name: "grpomesh",
          static_configs: targets.map(([name, s]) => ({
            targets: [`127.0.0.1:${s.metrics}`],
            labels: { service: name.replace(/-\d+$/, ""), pod: name },
          })),
        },
      ],
    };
    writeFileSync(join(dir, "prometheus.yml"), JSON.stringify(config)); // JSON is YAML
    const check = promtool(["check", "config", "prometheus.yml"], dir);
    assert.equal(check.status, 0, check.out);
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const promLog: string[] = [];
    prometheus.stderr!.on("data", (c: Buffer) => promLog.push(c.toString()));
    const api = `http://127.0.0.1:${port}/api/v1`;
    await until("Prometheus to be ready", async () => ((await fetch(`http://127.0.0.1:${port}/-/ready`)).ok ? true : undefined), 60_000);

    const rules = (await (await fetch(`${api}/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    assert.equal(loaded.length, 5, "the server did not load the five alert rules");
    for (const r of loaded) assert.notEqual(r.health, "err", `rule ${r.name} does not evaluate`);

    // every dashboard query returns data once a few scrapes (and steps, evaluations) are in
    const missing = await until(
      "every dashboard query to return data",
      async () => {
        const empty: string[] = [];
        for (const q of dashboardQueries()) {
          const r = (await (await fetch(`${api}/query?query=${encodeURIComponent(q)}`)).json()) as {
            status: string;
            error?: string;
            data?: { result: unknown[] };
          };
          assert.equal(r.status, "success", `query ${q}: ${r.error}`);
          if (!r.data!.result.length) empty.push(q);
        }
        return empty.length ? undefined : empty;
      },
      120_000,
    ).catch(async (err: Error) => {
      const empty: string[] = [];
      for (const q of dashboardQueries()) {
        const r = (await (await fetch(`${api}/query?query=${encodeURIComponent(q)}`)).json()) as { data?: { result: unknown[] } };
        if (!r.data?.result.length) empty.push(q);
      }
      throw new Error(`${err.message}; queries without data: ${empty.join(" | ")}\n${promLog.join("").slice(-2000)}\n${output.join("").slice(-2000)}`);
    });
    assert.deepEqual(missing, []);
  } finally {
    await stop(prometheus);
    await stop(stack);
    rmSync(dir, { recursive: true, force: true });
  }
});
