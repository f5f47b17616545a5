// The orchestrator process: its settings (ORCHESTRATOR_* env fallbacks, --config=run.json) to a run
// (src/run.ts), served and trained until max_iters. Exits 0 when the run is done (or was already),
// 130 when a SIGINT/SIGTERM stopped it after a step before max_iters (a second signal quits at once),
// 1 on an error, 2 for a bad setting. On --resume the run's saved configuration is restored (README).
import { runServiceMain, commandLine } from "@grpomesh/rpc";
import { startOrchestrator } from "./run.ts";
import { ORCHESTRATOR_ENV_PREFIX, ORCHESTRATOR_SETTINGS, orchestratorRelations } from "./settings.ts";

await runServiceMain({
  name: "orchestrator",
  prefix: "[orchestrator]",
  settings: ORCHESTRATOR_SETTINGS,
  envPrefix: ORCHESTRATOR_ENV_PREFIX,
  command: commandLine(import.meta.url),
  check: orchestratorRelations,
  start: (_config, args) => startOrchestrator(args),
  startLine: (run) => run.startLine,
  done: (run) => run.run(),
  stop: (run, signal) => run.stop(signal),
  graceMs: 1_000,
});
