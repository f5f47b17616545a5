// The models a chaos run trains with: the bundled generator and judge (models/), or tiny ones
// made on the spot (a 1-layer generator and a judge that rewards the letter "e") for a fast run.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { ROOT, TINY_RUN, writeCharacterJudge, writeTinyGenerator } from "@grpomesh/launcher";
import { initBackend } from "@grpomesh/model";

export interface ChaosModels {
  generator: string;
  judgeModel: string;
  /** Orchestrator run settings suited to these models (steps and checkpoint interval are set by the chaos run). */
  runConfig: Record<string, unknown>;
}

export async function tinyModels(dir: string): Promise<ChaosModels> {
  await initBackend(undefined, { log: false });
  const { vocab } = loadCorpus();
  const generator = join(dir, "generator");
  writeTinyGenerator(generator, vocab.tokens, { seqLen: 32 });
  const judgeModel = join(dir, "judge", "model.onnx");
  writeCharacterJudge(judgeModel, vocab.tokens, "e", { seqLen: 32 });
  return { generator, judgeModel, runConfig: TINY_RUN };
}

/** The bundled models with a run config file (configs/kjv.json by default), without evaluations or printed samples between steps. */
export function bundledModels(runConfig: Record<string, unknown>): ChaosModels {
  const generator = join(ROOT, "models/generator");
  const judgeModel = join(ROOT, "models/judge/model.onnx");
  for (const [what, path] of [
    ["generator checkpoint", join(generator, "config.json")],
    ["judge model", judgeModel],
  ] as const) {
    if (!existsSync(path)) throw new Error(`${what} not found at ${path}; run npm run build-models, or pass --models=tiny`);
  }
  return { generator, judgeModel, runConfig: { ...runConfig, eval_interval: 0, sample_interval: 0 } };
}
