// Exports a checkpoint folder (config.json + model.safetensors) to an ONNX file:
//   node --import tsx libs/onnx/src/cli.ts <checkpoint-dir> <out.onnx> [--version=…] [--name=…]
import { pathToFileURL } from "node:url";
import { loadCheckpoint, writeFileAtomic } from "@grpomesh/model";
import { exportModelToOnnx } from "./export.ts";
import { inspectJudgeModel } from "./contract.ts";

const USAGE = "usage: node --import tsx libs/onnx/src/cli.ts <checkpoint-dir> <out.onnx> [--version=<model version>] [--name=<model name>]";

export interface ExportCliResult {
  outPath: string;
  bytes: number;
  modelType: string;
  digest: string;
}

/** Parses argv (without node and script), exports, writes atomically; throws with the usage on bad arguments. */
export function runExportCli(argv: string[], log: (line: string) => void = console.log): ExportCliResult {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (const arg of argv) {
    const m = /^--([a-z]+)=(.*)$/.exec(arg);
    if (m) {
      if (m[1] !== "version" && m[1] !== "name") throw new Error(`unknown option ${arg}; ${USAGE}`);
      flags[m[1]] = m[2]!;
    } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}; ${USAGE}`);
    else positional.push(arg);
  }
  if (positional.length !== 2) throw new Error(`expected a checkpoint folder and an output path; got ${positional.length} argument(s). ${USAGE}`);
  const [dir, outPath] = positional as [string, string];
  const ckpt = loadCheckpoint(dir);
  const bytes = exportModelToOnnx(ckpt.config, ckpt.weights, {
    ...(flags.version !== undefined ? { version: flags.version } : {}),
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    metadata: { "grpomesh.weights_sha256": ckpt.digest },
  });
  // A scorer is meant to be a judge: refuse to write one the judge service would refuse to load.
  if (ckpt.config.model_type === "sequence_scorer") inspectJudgeModel(bytes);
  writeFileAtomic(outPath, bytes);
  log(
    `wrote ${outPath}: ${ckpt.config.model_type}, ${(bytes.length / 1e6).toFixed(2)} MB, weights sha256 ${ckpt.digest.slice(0, 12)}…${flags.version ? `, version ${flags.version}` : ""}`,
  );
  return { outPath, bytes: bytes.length, modelType: ckpt.config.model_type, digest: ckpt.digest };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    runExportCli(process.argv.slice(2));
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(1);
  }
}
