// `npm run chaos -- [--seed=S] [--faults=N] [--steps=M] …`: a seeded GRPO run on the local stack,
// once uninterrupted and once while SIGKILLs hit policy, reference, a judge replica and the
// orchestrator; prints what happened to each fault and whether the final policy weights and
// optimizer state are bit-identical, with every step counted once. Exit code 0 only then.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { formatConfig, parseConfig } from "@grpomesh/config";
import { ROOT } from "@grpomesh/launcher";
import { runChaos } from "./chaos.ts";
import { planFaults } from "./plan.ts";
import { bundledModels, tinyModels } from "./models.ts";
import { formatTable, formatVerdict } from "./table.ts";

const DEFAULTS = {
  /** Seeds the run (data order, sampling) and the fault plan. */
  seed: 1,
  /** SIGKILLs during the run; every four cover policy, reference, a judge replica and the orchestrator. */
  faults: 4,
  /** GRPO steps of the run. */
  steps: 40,
  /** Explicit faults instead of the seeded draw, e.g. "judge@3,policy@9,orchestrator@15,reference@20". */
  plan: "",
  judges: 2,
  /** Checkpoint every this many steps: a resume redoes at most this many − 1 steps. */
  checkpoint_interval: 4,
  /** bundled (models/generator, models/judge) or tiny (made on the spot; a run takes seconds). */
  models: "bundled",
  /** Run settings for the bundled models (steps, checkpoint interval and seed are set from the flags above). */
  run_config: "configs/local.json",
  /** Mutual TLS between the services (fresh credentials in the work folder); false: plaintext gRPC. The admin token is always required. */
  tls: true,
  /** onnxruntime threads of policy and reference, fixed so every run reduces in the same order. */
  threads: 1,
  /** Where runs, logs and credentials go (default: a fresh folder in the system's temp dir, removed after a pass). */
  work_dir: "",
  /** Keep the work folder after a pass too. */
  keep: false,
  /** Also write the report as JSON to this file. */
  json: "",
};

const HELP = `usage: npm run chaos -- [--key=value ...]

Runs a seeded GRPO run on the local stack twice: uninterrupted, then while SIGKILLs hit the policy,
the reference, a judge replica and the orchestrator at seeded moments. The launcher's supervisor
restarts judges and the reference; a dead policy is restarted from the initial generator and the
orchestrator resumed with --resume. Prints what happened to each fault and exits 0 only if the final
policy weights and optimizer state equal the uninterrupted run's byte for byte, every step is
counted once in log.jsonl, and every death was handled as its role's should be.

  --seed=S                 run seed (data order, sampling) and fault plan
  --faults=N               SIGKILLs; every four cover policy, reference, a judge and the orchestrator
  --steps=M                GRPO steps
  --plan=ROLE@STEP,…       explicit faults instead of the seeded draw (judge@3,policy@9,…)
  --checkpoint_interval=K  checkpoint every K steps (a resume redoes fewer than K steps)
  --judges=N               judge replicas (at least 2)
  --models=bundled|tiny    models/ (about a minute) or tiny ones made on the spot (seconds)
  --run_config=FILE        run settings for the bundled models (default configs/local.json)
  --tls=false              plaintext gRPC (the admin token is still used)
  --threads=N              onnxruntime threads of policy and reference (fixed for bit-exact runs)
  --work_dir=DIR           keep runs, logs and credentials here (default: a temp folder, removed after a pass)
  --keep                   keep the temp folder after a pass too
  --json=FILE              also write the report as JSON
`;

async function main(): Promise<number> {
  const parsed = parseConfig(DEFAULTS, {
    integers: ["seed", "faults", "steps", "judges", "checkpoint_interval", "threads"],
    choices: { models: ["bundled", "tiny"] },
    maxPositional: 0,
  });
  if (parsed.help) {
    console.log(`${HELP}\ndefaults:\n${formatConfig(DEFAULTS)}`);
    return 0;
  }
  const c = parsed.config;
  if (c.steps < 2) throw new Error(`--steps=${c.steps}: expected at least 2 (a fault needs a step after it)`);
  if (c.judges < 2) throw new Error(`--judges=${c.judges}: expected at least 2 (a judge replica's death is survived by the others)`);
  if (c.checkpoint_interval < 1) throw new Error(`--checkpoint_interval=${c.checkpoint_interval}: expected at least 1 (resumes need checkpoints)`);
  // The plan is checked before anything is made.
  planFaults({ seed: c.seed, faults: c.faults, steps: c.steps, judges: c.judges, spec: c.plan || undefined });
  const workDir = c.work_dir ? resolve(c.work_dir) : mkdtempSync(join(tmpdir(), "grpomesh-chaos-"));
  console.log(`chaos: work folder ${workDir}`);
  const models = c.models === "tiny" ? await tinyModels(join(workDir, "models")) : bundledModels(readRunConfig(resolve(ROOT, c.run_config)));
  const t0 = performance.now();
  const report = await runChaos({
    seed: c.seed,
    faults: c.faults,
    steps: c.steps,
    plan: c.plan || undefined,
    judges: c.judges,
    checkpointInterval: c.checkpoint_interval,
    runConfig: models.runConfig,
    generator: models.generator,
    judgeModel: models.judgeModel,
    workDir,
    threads: c.threads,
    tls: c.tls,
    log: (line) => console.log(line),
  });
  console.log(
    `\nchaos: seed ${c.seed}, ${c.steps} steps, checkpoint every ${c.checkpoint_interval}, ${c.judges} judges, ${c.models} models, ${report.security} (${((performance.now() - t0) / 1000).toFixed(0)} s in all)\n`,
  );
  console.log(formatTable(report));
  console.log(`\n${formatVerdict(report)}`);
  if (c.json) writeFileSync(resolve(c.json), JSON.stringify(report, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2) + "\n");
  if (report.passed && !c.keep && !c.work_dir) rmSync(workDir, { recursive: true, force: true });
  else console.log(`chaos: runs and logs kept in ${workDir}`);
  return report.passed ? 0 : 1;
}

function readRunConfig(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new Error(
      `--run_config=${path}: ${err instanceof Error ? err.message : String(err)}; expected a JSON object of run settings (like configs/local.json)`,
    );
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`chaos: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
