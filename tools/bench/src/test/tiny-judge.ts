// For the bench tests: a tiny random-weight judge (spawned, not imported: the bench must not
// depend on the judge service) and the console lines a bench prints.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** Runs `fn` with the path of a 1-layer judge (seq_len 16, vocabulary 12) in a temp folder. */
export async function withTinyJudge(fn: (model: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-test-"));
  try {
    const model = join(dir, "tiny.onnx");
    const made = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "services/judge/src/make-random-judge.ts",
        model,
        "--seq_len=16",
        "--n_layer=1",
        "--d_model=16",
        "--n_head=2",
        "--d_ff=32",
        "--vocab-size=12",
      ],
      { cwd: ROOT, encoding: "utf8" },
    );
    if (made.status !== 0) throw new Error(`make-random-judge failed: ${made.stderr}`);
    await fn(model);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The lines `fn` prints with console.log, one entry per line. */
export async function printedLines(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(...args.join(" ").split("\n"));
  try {
    await fn();
  } finally {
    console.log = log;
  }
  return lines;
}
