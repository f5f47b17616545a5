// The orchestrator process: flags (ORCHESTRATOR_* env fallbacks) to a run (src/run.ts), served and
// trained until max_iters. Exits 0 when the run is done (or was already), 130 when a SIGINT/SIGTERM
// stopped it after a step before max_iters (a second signal quits at once), 1 on an error, 2 for a
// bad flag. Usage: node --import tsx services/orchestrator/src/main.ts [--config=run.json] [--key=value ...]
import { runServiceMain } from "@grpomesh/rpc";
import { orchestratorUsage, parseOrchestratorArgs, startOrchestrator } from "./run.ts";

await runServiceMain({
  name: "orchestrator",
  prefix: "[orchestrator]",
  parse: parseOrchestratorArgs,
  usage: orchestratorUsage,
  start: startOrchestrator,
  startLine: (run) => run.startLine,
  done: (run) => run.run(),
  stop: (run, signal) => run.stop(signal),
  graceMs: 1_000,
});
