// The policy process: parse its settings (POLICY_* env fallbacks), load the checkpoint, serve, log
// one start line, shut down gracefully on SIGTERM/SIGINT. A checkpoint that cannot be loaded exits 1.
import { modelStartFields } from "@grpomesh/role-engines";
import { runServiceMain, commandLine } from "@grpomesh/rpc";
import { POLICY_ENV_PREFIX, POLICY_SETTINGS } from "./settings.ts";
import { startPolicyServer, type PolicyServer } from "./policy-server.ts";

await runServiceMain({
  name: "policy",
  settings: POLICY_SETTINGS,
  envPrefix: POLICY_ENV_PREFIX,
  command: commandLine(import.meta.url),
  start: startPolicyServer,
  startFields,
  security: (s) => s.security,
  graceMs: 30_000,
});

/** Where, which model and weights, how configured. */
async function startFields(s: PolicyServer): Promise<Array<[string, string | number]>> {
  const info = await s.engine.info();
  return [
    ["address", s.address],
    ...modelStartFields(info, s.config.checkpoint, [
      ["version", info.policyVersion],
      ["last_step", info.lastStep],
    ]),
    ["max_batch", s.config.max_batch],
    ["max_completions", s.config.max_completions],
    ["metrics", s.metricsPort === null ? "off" : `:${s.metricsPort}/metrics`],
    ["checkpoint_root", s.config.checkpoint_root],
  ];
}
