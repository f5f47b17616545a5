// Small real models for end-to-end tests: a randomly initialised generator checkpoint and a
// rule-based judge compiled into the sequence-scorer architecture and exported to ONNX, whose
// reward (2·share of one character − 1) a policy can learn in a few steps.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MaskedTransformer, defaultGeneratorConfig, type ModelConfig } from "@grpomesh/model";
import { exportModelToOnnx } from "@grpomesh/onnx-export";

/**
 * Orchestrator settings for these tiny models: a step takes a few hundred milliseconds on two
 * cores; no evaluation or printed samples between steps. Callers add max_iters and intervals.
 */
export const TINY_RUN = {
  task: "kjv",
  batch_size: 4,
  group_size: 4,
  learning_rate: 0.01,
  warmup_iters: 2,
  kl_beta: 0.05,
  eval_interval: 0,
  eval_batches: 1,
  sample_interval: 0,
  warn_kl: 1000,
};

export function writeTinyGenerator(dir: string, vocab: readonly string[], { seqLen = 32, seed = 7 } = {}): string {
  const config = defaultGeneratorConfig(vocab, { seq_len: seqLen, n_layer: 1, n_head: 2, d_model: 16, d_ff: 32, dropout: 0 });
  const model = new MaskedTransformer(config, { seed });
  try {
    return model.save(dir);
  } finally {
    model.dispose();
  }
}

/**
 * A sequence scorer whose score is 2·(fraction of positions holding `char`) − 1: every block's
 * output projections are zero (the residual stream passes through), the token embedding is
 * [1, −1] for `char` and [−1, 1] otherwise (LayerNorm leaves such vectors unchanged), and the
 * score reads the first coordinate of the mean over positions.
 */
export function writeCharacterJudge(path: string, vocab: readonly string[], char: string, { seqLen = 32, version = "e-counter-v1" } = {}): void {
  const target = vocab.indexOf(char);
  if (target < 0) throw new Error(`character ${JSON.stringify(char)} is not in the vocabulary`);
  const config: ModelConfig = {
    ...defaultGeneratorConfig(vocab, { seq_len: seqLen, n_layer: 1, n_head: 1, d_model: 2, d_ff: 2, dropout: 0 }),
    model_type: "sequence_scorer",
  };
  const model = new MaskedTransformer(config, { seed: 1 });
  const weights = model.getWeights();
  model.dispose();
  for (const [name, values] of weights) {
    if (/ln(1|2|_f)\.weight$/.test(name)) values.fill(1);
    else values.fill(0);
  }
  const emb = weights.get("tok_emb.weight")!;
  for (let v = 0; v < vocab.length; v++) {
    emb[v * 2] = v === target ? 1 : -1;
    emb[v * 2 + 1] = v === target ? -1 : 1;
  }
  weights.get("score.weight")!.set([1, 0]);
  const bytes = exportModelToOnnx(config, weights, { version, name: `count-${char}` });
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, bytes);
}

/** The version a judge serves `path` under: its metadata version and the first 12 hex of the file's sha256. */
export function judgeLabel(path: string, version: string): string {
  return `${version}+sha256:${createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 12)}`;
}

/**
 * The pair the end-to-end tests train: a tiny generator in `dir/generator` and the "e"-counting
 * judge in `dir/judge.onnx`, both at `seqLen`, over the corpus vocabulary `vocab`.
 */
export function writeTinyModels(dir: string, vocab: readonly string[], { seqLen = 32 } = {}): { generator: string; judgeModel: string } {
  const generator = join(dir, "generator");
  writeTinyGenerator(generator, vocab, { seqLen });
  const judgeModel = join(dir, "judge.onnx");
  writeCharacterJudge(judgeModel, vocab, "e", { seqLen });
  return { generator, judgeModel };
}
