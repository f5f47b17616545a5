// The reference process: parse flags (REFERENCE_* env fallbacks), load the checkpoint and check its
// vocabulary against the dataset's, serve, log one start line, shut down on SIGTERM/SIGINT.
// A refused checkpoint exits 1 with the reason. The start line ends with tls=… admin=…; stderr gets
// a warning when the reference is not fully secured.
import { modelStartFields } from "@grpomesh/engine";
import { runServiceMain } from "@grpomesh/rpc";
import { parseReferenceConfig, referenceUsage } from "./config.ts";
import { startReferenceServer, type ReferenceServer } from "./reference-server.ts";

await runServiceMain({
  name: "reference",
  parse: parseReferenceConfig,
  usage: referenceUsage,
  start: startReferenceServer,
  startFields,
  security: (s) => s.security,
  graceMs: 10_000,
});

/** Where, which model and weights, how configured. */
function startFields(s: ReferenceServer): Array<[string, string | number]> {
  const info = s.engine.info();
  return [
    ["address", s.address],
    ...modelStartFields(info, s.config.checkpoint),
    ["dataset_meta", s.config.datasetMeta ?? "none"],
    ["max_batch", s.config.maxBatch],
    ["metrics", s.metricsPort === null ? "off" : `:${s.metricsPort}/metrics`],
  ];
}
