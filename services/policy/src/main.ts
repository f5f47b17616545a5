// The policy process: parse flags (POLICY_* env fallbacks), load the checkpoint, serve, log one
// start line, shut down gracefully on SIGTERM/SIGINT. A checkpoint that cannot be loaded exits 1.
import { ConfigError, parsePolicyConfig, policyUsage } from "./config.ts";
import { startPolicyServer, type PolicyServer } from "./policy-server.ts";

let server: PolicyServer;
try {
  const { config, help } = parsePolicyConfig(process.argv.slice(2), process.env);
  if (help) {
    console.log(policyUsage());
    process.exit(0);
  }
  server = await startPolicyServer(config);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`policy: ${err.message}\n${policyUsage()}`);
    process.exit(2);
  }
  console.error(`policy: cannot start: ${(err as Error).message}`);
  process.exit(1);
}

console.log(startLine(server));

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`policy: ${signal}, finishing in-flight requests and shutting down`);
    server.shutdown(30_000).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`policy: shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  });
}

/** One key=value line: where, which model and weights, how configured. */
function startLine(s: PolicyServer): string {
  const info = s.engine.info();
  const c = info.config;
  const fields: Array<[string, string | number]> = [
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
  return `policy: serving ${fields.map(([k, v]) => `${k}=${String(v).includes(" ") ? JSON.stringify(String(v)) : v}`).join(" ")}`;
}
