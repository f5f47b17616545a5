// The policy process: parse flags (POLICY_* env fallbacks), load the checkpoint, serve, log one
// start line, shut down gracefully on SIGTERM/SIGINT. A checkpoint that cannot be loaded exits 1.
import { runServiceMain } from "@grpomesh/rpc";
import { parsePolicyConfig, policyUsage } from "./config.ts";
import { startPolicyServer, type PolicyServer } from "./policy-server.ts";

await runServiceMain({
  name: "policy",
  parse: parsePolicyConfig,
  usage: policyUsage,
  start: startPolicyServer,
  startFields,
  graceMs: 30_000,
});

/** Where, which model and weights, how configured. */
function startFields(s: PolicyServer): Array<[string, string | number]> {
  const info = s.engine.info();
  const c = info.config;
  return [
    ["address", s.address],
    ["backend", info.backend],
    ["checkpoint", s.config.checkpoint],
    ["layers", c.n_layer],
    ["d_model", c.d_model],
    ["heads", c.n_head],
    ["seq_len", c.seq_len],
    ["vocab", c.vocab_size],
    ["params", info.parameterCount],
    ["version", info.policyVersion],
    ["last_step", info.lastStep],
    ["digest", info.weightsDigest.slice(0, 16)],
    ["max_batch", s.config.maxBatch],
    ["max_completions", s.config.maxCompletions],
    ["metrics", s.metricsPort === null ? "off" : `:${s.metricsPort}/metrics`],
    ["checkpoint_root", s.config.checkpointRoot ?? "-"],
  ];
}
