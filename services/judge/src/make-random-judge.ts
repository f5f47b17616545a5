// Writes a random-weight judge model (a real scorer graph, untrained weights) for smoke runs and
// benchmarks: node --import tsx services/judge/src/make-random-judge.ts out.onnx [--seed=1]
//   [--version=random-v1] [--seq-len=128] [--n-layer=4] [--d-model=128] [--n-head=4] [--d-ff=512] [--vocab-size=75]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { randomScorerOnnx, scorerConfig } from "./random-scorer.ts";

const INT_FLAGS = { "seq-len": "seq_len", "n-layer": "n_layer", "d-model": "d_model", "n-head": "n_head", "d-ff": "d_ff", "vocab-size": "vocab_size" } as const;

function main(argv: string[]): void {
  const out = argv.find((a) => !a.startsWith("--"));
  if (!out)
    throw new Error(
      "no output path; usage: make-random-judge.ts out.onnx [--seed=N] [--version=V] [--seq-len=N] [--n-layer=N] [--d-model=N] [--n-head=N] [--d-ff=N] [--vocab-size=N]",
    );
  const overrides: Record<string, number> = {};
  let seed = "0";
  let version = "random";
  for (const arg of argv.filter((a) => a.startsWith("--"))) {
    const m = /^--([a-z-]+)=(.+)$/.exec(arg);
    if (!m) throw new Error(`argument ${arg} is not of the form --flag=value`);
    const [, flag, value] = m as unknown as [string, string, string];
    if (flag === "seed") seed = value;
    else if (flag === "version") version = value;
    else if (flag in INT_FLAGS) {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag}=${value}; expected a positive integer`);
      overrides[INT_FLAGS[flag as keyof typeof INT_FLAGS]] = n;
    } else
      throw new Error(
        `unknown flag --${flag}; known: --seed, --version, ${Object.keys(INT_FLAGS)
          .map((f) => `--${f}`)
          .join(", ")}`,
      );
  }
  const config = scorerConfig(overrides);
  const bytes = randomScorerOnnx(config, { seed, version, name: "random-judge" });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  const { vocab: _vocab, ...arch } = config;
  console.log(`wrote ${out} (${(bytes.byteLength / 1e6).toFixed(2)} MB, version ${version}, seed ${seed}, ${JSON.stringify(arch)})`);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  console.error(`make-random-judge: ${(err as Error).message}`);
  process.exit(2);
}
