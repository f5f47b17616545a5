// `npm run sim` settings. A light module: the docs generator imports it. Every other flag is the
// launcher's or the orchestrator's (`npm start`'s), passed through to each run.
import { setting, z, type Values } from "@grpomesh/config";

export const SIM_ENV_PREFIX = "SIM_";

const list = (what: string, item: RegExp) => z.string().refine((s) => s.split(",").every((x) => item.test(x.trim())), `a comma-separated list of ${what}`);

export const SIM_SETTINGS = {
  layout: setting(
    z.enum(["2host", "2host-split", "1host"]),
    "2host",
    "2host: policy, reference and orchestrator on one host, the judges on another; 2host-split: the reference moves to the judges' host; 1host: every role in one namespace on every core",
  ),
  pin: setting(z.boolean(), true, "pin each host of 2host to its own core with taskset (training host core 0, judge host core 1)"),
  bandwidth: setting(
    z.string().refine((s) => s === "off" || /^\d+(\.\d+)?(k|m|g)?bit$/.test(s), "off or a tc rate such as 1gbit, 100mbit"),
    "1gbit",
    "the link's bandwidth between the hosts (tc tbf on both ends); off: none",
  ),
  latency_ms: setting(
    list("milliseconds", /^\d+(\.\d+)?$/),
    "0",
    "one-way latency added between the training host and the judges (a delaying proxy); a list runs each",
  ),
  compare: setting(
    z.string().refine((s) => s === "" || /^[a-z_]+=[^=]+$/.test(s), "KEY=V1,V2,… (an orchestrator setting and its values), or empty"),
    "max_staleness=0,1",
    "the orchestrator setting compared and its values: one run per value (× seeds × latencies)",
  ),
  seeds: setting(list("integers", /^-?\d+$/), "1", "the runs' seeds; a list runs each and reports mean ± sd"),
  size: setting(
    z.enum(["bundled", "reference"]),
    "bundled",
    "bundled: the task's models; reference: a randomly initialised generator of 6 layers, d_model 256, T 256 (and a judge at T 256), task kjv",
  ),
  warmup_steps: setting(z.int().min(0), 5, "steps left out of steps/s at the start of each run (start-up, the pipeline filling)"),
  timeout_s: setting(z.int().min(10), 3600, "the whole simulation's time limit: past it the run in progress is stopped and everything removed"),
  work_dir: setting(z.string(), "", "where runs go; empty: a fresh temp folder, removed after (unless --keep)"),
  keep: setting(z.boolean(), false, "keep the work folder"),
  json: setting(z.string(), "", "also write every run's numbers and the table as JSON to this file"),
  cleanup: setting(z.boolean(), false, "only remove network namespaces left by simulations that are gone (kill -9), then exit"),
};

export type SimConfig = Values<typeof SIM_SETTINGS>;

export const SIM_INTRO =
  "Runs the local stack across simulated hosts (Linux network namespaces, root only) and compares steps/s and held-out quality of runs. Other flags are npm start's (launcher and orchestrator), passed to every run.";

/** `--compare`'s setting and values: "max_staleness=0,1" → ["max_staleness", ["0", "1"]]; empty → none. */
export function parseCompare(spec: string): { key: string; values: string[] } | null {
  if (!spec) return null;
  const [key, values] = spec.split("=") as [string, string];
  return { key, values: values.split(",").map((v) => v.trim()) };
}

export const splitList = (s: string): string[] => s.split(",").map((x) => x.trim());
