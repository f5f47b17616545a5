// `npm run chaos -- [--seed=S] [--faults=N] [--steps=M] …`: a seeded GRPO run on the local stack,
// once uninterrupted and once while SIGKILLs hit policy, reference, a judge replica and the
// orchestrator; prints what happened to each fault and whether the final policy weights and
// optimizer state are bit-identical, with every step counted once. Exit code 0 only then.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseCommandLine } from "@grpomesh/config";
import { ROOT } from "@grpomesh/launcher";
import { runChaos } from "./chaos.ts";
import { planFaults } from "./plan.ts";
import { bundledModels, tinyModels } from "./models.ts";
import { formatTable, formatVerdict } from "./table.ts";
import { CHAOS_ENV_PREFIX, CHAOS_INTRO, CHAOS_SETTINGS } from "./settings.ts";

async function main(): Promise<number> {
  const c = parseCommandLine(CHAOS_SETTINGS, "npm run chaos --", { intro: CHAOS_INTRO, envPrefix: CHAOS_ENV_PREFIX }).config;
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
    runConfig: { ...models.runConfig, max_staleness: c.max_staleness },
    generator: models.generator,
    judgeModel: models.judgeModel,
    workDir,
    threads: c.threads,
    tls: c.tls,
    log: (line) => console.log(line),
  });
  console.log(
    `\nchaos: seed ${c.seed}, ${c.steps} steps, checkpoint every ${c.checkpoint_interval}, max_staleness ${c.max_staleness}, ${c.judges} judges, ${c.models} models, ${report.security} (${((performance.now() - t0) / 1000).toFixed(0)} s in all)\n`,
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
      `--run_config=${path}: ${err instanceof Error ? err.message : String(err)}; expected a JSON object of run settings (like configs/kjv.json)`,
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
