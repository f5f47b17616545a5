// The reference process: parse its settings (REFERENCE_* env fallbacks), load the checkpoint and check its
// vocabulary against the dataset's, serve, log one start line, shut down on SIGTERM/SIGINT.
// A refused checkpoint exits 1 with the reason. The start line ends with tls=… admin=…; stderr gets
// a warning when the reference is not fully secured.
import { modelStartFields } from "@grpomesh/role-engines";
import { runServiceMain, commandLine } from "@grpomesh/rpc";
import { REFERENCE_ENV_PREFIX, REFERENCE_SETTINGS } from "./settings.ts";
import { datasetMetaPath, startReferenceServer, type ReferenceServer } from "./reference-server.ts";

await runServiceMain({
  name: "reference",
  settings: REFERENCE_SETTINGS,
  envPrefix: REFERENCE_ENV_PREFIX,
  command: commandLine(import.meta.url),
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
    ["dataset_meta", datasetMetaPath(s.config.dataset_meta) ?? "none"],
    ["max_batch", s.config.max_batch],
    ["metrics", s.metricsPort === null ? "off" : `:${s.metricsPort}/metrics`],
  ];
}
