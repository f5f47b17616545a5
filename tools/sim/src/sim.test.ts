// The simulation's own parts: its settings, the run summary read from a log, the comparison table,
// and (as root with iproute2) the hosts it makes and removes.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSettings } from "@grpomesh/config";
import { Network, namespaceProblem, networkProblem, rateBytesPerSecond, simNamespaces } from "./netns.ts";
import { SIM_SETTINGS, parseCompare } from "./settings.ts";
import { comparisonTable, summarizeRun, type RunSummary } from "./sim.ts";

const root = mkdtempSync(join(tmpdir(), "grpomesh-sim-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("settings: compared values, lists and rates are checked; a wrong one names what it accepts", () => {
  const c = parseSettings(SIM_SETTINGS, { argv: ["--compare=max_staleness=0,1,2", "--seeds=1,2", "--latency_ms=0,2.5", "--bandwidth=100mbit"] }).config;
  assert.deepEqual(parseCompare(c.compare), { key: "max_staleness", values: ["0", "1", "2"] });
  assert.equal(parseCompare(""), null);
  assert.throws(() => parseSettings(SIM_SETTINGS, { argv: ["--latency_ms=fast"] }), /latency_ms.*comma-separated list of milliseconds/);
  assert.throws(() => parseSettings(SIM_SETTINGS, { argv: ["--bandwidth=lots"] }), /bandwidth.*tc rate/);
  assert.throws(() => parseSettings(SIM_SETTINGS, { argv: ["--compare=max_staleness"] }), /compare.*KEY=V1,V2/);
  assert.equal(rateBytesPerSecond("1gbit"), 125e6);
  assert.equal(rateBytesPerSecond("500kbit"), 62_500);
  assert.throws(() => rateBytesPerSecond("1gb"), /not a tc rate/);
});

function writeLog(name: string, stepMs: number[], finalReward: number, idleJudge: number): string {
  const dir = join(root, name);
  const records: object[] = [{ type: "eval", step: 0, mean_reward: 0.5, solve_rate: 0, accuracy: 0.5 }];
  stepMs.forEach((ms, i) =>
    records.push({
      type: "step",
      step: i + 1,
      phases: { step_ms: ms },
      idle_fraction: { policy: 0.1, reference: 0.7, judge: idleJudge },
      staleness: 1,
      importance_weight_mean: 0.99,
    }),
  );
  records.push(
    { type: "eval", step: stepMs.length, mean_reward: finalReward, solve_rate: 0.25, accuracy: 0.75 },
    { type: "end", reason: "finished", wall_s: 12 },
  );
  execFileSync("mkdir", ["-p", dir]);
  writeFileSync(join(dir, "log.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return dir;
}

test("a run's summary: steps/s after the warm-up, the last evaluation, idle means; the table's ratio is to the first value at the same latency", () => {
  // warm-up 2: steps 3 and 4 count, 200 ms each → 5 steps/s
  const s = summarizeRun(writeLog("a", [1000, 900, 200, 200], 0.9, 0.3), 2);
  assert.equal(s.steps, 4);
  assert.ok(Math.abs(s.steps_per_s - 5) < 1e-9, String(s.steps_per_s));
  assert.deepEqual([s.heldout_reward, s.heldout_solved, s.heldout_accuracy, s.wall_s, s.completed], [0.9, 0.25, 0.75, 12, true]);
  assert.ok(Math.abs(s.idle.judge - 0.3) < 1e-12);
  assert.throws(() => summarizeRun(join(root, "none"), 0), /log\.jsonl does not exist/);
  const run = (value: string, latency: number, sps: number, reward: number): RunSummary => ({
    ...s,
    overrides: { max_staleness: value, seed: "1" },
    latency_ms: latency,
    steps_per_s: sps,
    heldout_reward: reward,
  });
  const table = comparisonTable([run("0", 0, 2, 1), run("0", 0, 2.2, 1.2), run("1", 0, 3.15, 1.1), run("0", 5, 1.5, 1), run("1", 5, 3, 1)], "max_staleness");
  const lines = table.split("\n");
  assert.match(lines[0]!, /^\| run \| latency \| seeds \| steps\/s \| ratio \| held-out reward/);
  assert.match(lines[2]!, /^\| max_staleness=0 \| 0 ms \| 2 \| 2\.10 ± 0\.14 \| 1\.00× \| 1\.1000 ± 0\.1414 /);
  assert.match(lines[3]!, /^\| max_staleness=1 \| 0 ms \| 1 \| 3\.15 \| 1\.50× /);
  assert.match(lines[5]!, /^\| max_staleness=1 \| 5 ms \| 1 \| 3\.00 \| 2\.00× /, "the ratio is to the synchronous run at the same latency");
});

const skipNetwork = networkProblem() ?? namespaceProblem();
test("the hosts: two namespaces joined by a veth pair with a tbf qdisc, pinned to a core each, all removed after", { skip: skipNetwork ?? false }, () => {
  const net = Network.create({ layout: "2host", bandwidth: "100mbit", pin: true });
  try {
    const made = simNamespaces().filter((n) => n.startsWith(`gmsim-${process.pid}-`));
    assert.equal(made.length, 2);
    const judges = net.hosts.judges;
    const qdisc = execFileSync("ip", ["netns", "exec", judges.ns, "tc", "qdisc", "show"], { encoding: "utf8" });
    assert.match(qdisc, /tbf .*rate 100Mbit/);
    // the training host reaches the judge host's address (a refused connection is a reachable host)
    const reach = execFileSync(
      "ip",
      ["netns", "exec", net.hosts.train.ns, process.execPath, "-e", `require("net").connect(9, "${judges.ip}").on("error", (e) => console.log(e.code))`],
      { encoding: "utf8" },
    );
    assert.match(reach, /ECONNREFUSED/);
    // … and the namespace this test runs in does not
    const outside = execFileSync(
      process.execPath,
      [
        "-e",
        `require("net").connect({port: 9, host: "${judges.ip}", timeout: 300}).on("error", (e) => console.log(e.code)).on("timeout", function () { console.log("TIMEOUT"); this.destroy(); })`,
      ],
      { encoding: "utf8" },
    );
    assert.doesNotMatch(outside, /ECONNREFUSED/, "traffic to the hosts' addresses does not route from outside");
    const wrapped = execFileSync(net.wrap(judges)[0]!, [...net.wrap(judges).slice(1), "sh", "-c", "taskset -p $$"], { encoding: "utf8" });
    if (judges.cpus !== null) assert.match(wrapped, /affinity mask: 2/);
  } finally {
    net.remove();
  }
  assert.equal(simNamespaces().filter((n) => n.startsWith(`gmsim-${process.pid}-`)).length, 0, "everything made is gone");
});
