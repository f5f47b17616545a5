// Exports a checkpoint folder (config.json + model.safetensors) to an ONNX file:
//   node --import tsx libs/onnx-export/src/cli.ts <checkpoint-dir> <out.onnx> [--version=…] [--name=…]
import { pathToFileURL } from "node:url";
import { ConfigError, parseCommandLine, parseSettings, setting, z } from "@grpomesh/config";
import { loadCheckpoint, writeFileAtomic } from "@grpomesh/model/format";
import { exportModelToOnnx } from "./export.ts";
import { inspectJudgeModel } from "./contract.ts";

export const EXPORT_COMMAND = "node --import tsx libs/onnx-export/src/cli.ts <checkpoint-dir> <out.onnx>";
export const EXPORT_ENV_PREFIX = "EXPORT_";
export const EXPORT_SETTINGS = {
  version: setting(z.string(), "", "the model's grpomesh.version (what a judge reports serving); empty: none"),
  name: setting(z.string(), "", "the model's name in its metadata; empty: none"),
};

export interface ExportCliResult {
  outPath: string;
  bytes: number;
  modelType: string;
  digest: string;
}

/** Parses argv (without node and script), exports, writes atomically; a bad command line is a ConfigError. */
export function runExportCli(argv: string[], log: (line: string) => void = console.log): ExportCliResult {
  const { config, positional } = parseSettings(EXPORT_SETTINGS, { argv, maxPositional: 2, env: process.env, envPrefix: EXPORT_ENV_PREFIX });
  if (positional.length !== 2)
    throw new ConfigError(`expected a checkpoint folder and an output path; got ${positional.length} argument(s): ${EXPORT_COMMAND}`);
  const [dir, outPath] = positional as [string, string];
  const ckpt = loadCheckpoint(dir);
  const bytes = exportModelToOnnx(ckpt.config, ckpt.weights, {
    ...(config.version ? { version: config.version } : {}),
    ...(config.name ? { name: config.name } : {}),
    metadata: { "grpomesh.weights_sha256": ckpt.digest },
  });
  // A scorer is meant to be a judge: refuse to write one the judge service would refuse to load.
  if (ckpt.config.model_type === "sequence_scorer") inspectJudgeModel(bytes);
  writeFileAtomic(outPath, bytes);
  log(
    `wrote ${outPath}: ${ckpt.config.model_type}, ${(bytes.length / 1e6).toFixed(2)} MB, weights sha256 ${ckpt.digest.slice(0, 12)}…${config.version ? `, version ${config.version}` : ""}`,
  );
  return { outPath, bytes: bytes.length, modelType: ckpt.config.model_type, digest: ckpt.digest };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  parseCommandLine(EXPORT_SETTINGS, EXPORT_COMMAND, { maxPositional: 2, envPrefix: EXPORT_ENV_PREFIX });
  try {
    runExportCli(process.argv.slice(2));
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
}
