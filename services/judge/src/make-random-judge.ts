// Writes a random-weight judge model (a real scorer graph, untrained weights) for smoke runs and
// benchmarks: node --import tsx services/judge/src/make-random-judge.ts out.onnx [--seed=1]
//   [--version=random-v1] [--seq_len=128] [--n_layer=4] [--d_model=128] [--n_head=4] [--d_ff=512] [--vocab_size=75]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError, parseSettings, setting, usage, z } from "@grpomesh/config";
import { DEFAULT_JUDGE_ARCH, randomScorerOnnx, scorerConfig } from "./random-scorer.ts";

const size = (def: number, doc: string) => setting(z.int().min(1), def, doc);
const SETTINGS = {
  seed: setting(z.string().min(1), "0", "seed of the random weights"),
  version: setting(z.string().min(1), "random", "the model's grpomesh.version metadata"),
  seq_len: size(DEFAULT_JUDGE_ARCH.seq_len, "sequence length"),
  n_layer: size(DEFAULT_JUDGE_ARCH.n_layer, "transformer layers"),
  d_model: size(DEFAULT_JUDGE_ARCH.d_model, "model width"),
  n_head: size(DEFAULT_JUDGE_ARCH.n_head, "attention heads"),
  d_ff: size(DEFAULT_JUDGE_ARCH.d_ff, "feed-forward width"),
  vocab_size: size(75, "vocabulary size (a synthetic vocabulary)"),
};
const COMMAND = "node --import tsx services/judge/src/make-random-judge.ts OUT.onnx";

try {
  const { config, positional, help } = parseSettings(SETTINGS, { maxPositional: 1 });
  if (help) {
    console.log(usage(SETTINGS, COMMAND));
    process.exit(0);
  }
  const out = positional[0];
  if (!out) throw new ConfigError(`no output path; usage: ${COMMAND} [--key=value …] (--help lists them)`);
  const { seed, version, ...arch } = config;
  const model = scorerConfig(arch);
  const bytes = randomScorerOnnx(model, { seed, version, name: "random-judge" });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  console.log(`wrote ${out} (${(bytes.byteLength / 1e6).toFixed(2)} MB, version ${version}, seed ${seed}, ${JSON.stringify(arch)})`);
} catch (err) {
  console.error(`make-random-judge: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}
