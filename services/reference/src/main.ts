// The reference process: parse flags (REFERENCE_* env fallbacks), load the checkpoint and check its
// vocabulary against the dataset's, serve, log one start line, shut down on SIGTERM/SIGINT.
// A refused checkpoint exits 1 with the reason.
import { ConfigError, parseReferenceConfig, referenceUsage } from "./config.ts";
import { startReferenceServer, type ReferenceServer } from "./reference-server.ts";

let server: ReferenceServer;
try {
  const { config, help } = parseReferenceConfig(process.argv.slice(2), process.env);
  if (help) {
    console.log(referenceUsage());
    process.exit(0);
  }
  server = await startReferenceServer(config);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`reference: ${err.message}\n${referenceUsage()}`);
    process.exit(2);
  }
  console.error(`reference: cannot start: ${(err as Error).message}`);
  process.exit(1);
}

console.log(startLine(server));

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`reference: ${signal}, finishing in-flight requests and shutting down`);
    server.shutdown(10_000).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`reference: shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  });
}

/** One key=value line: where, which model and weights, how configured. */
function startLine(s: ReferenceServer): string {
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
    ["digest", info.weightsDigest.slice(0, 16)],
    ["dataset_meta", s.config.datasetMeta ?? "none"],
    ["max_batch", s.config.maxBatch],
    ["metrics", s.metricsPort === null ? "off" : `:${s.metricsPort}/metrics`],
  ];
  return `reference: serving ${fields.map(([k, v]) => `${k}=${String(v).includes(" ") ? JSON.stringify(String(v)) : v}`).join(" ")}`;
}
