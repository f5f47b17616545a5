// Test fixtures: a tiny generator checkpoint and a dataset metadata file with a chosen vocabulary.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MaskedTransformer, defaultGeneratorConfig, type ModelConfig } from "@grpomesh/model";
import { Rng } from "@grpomesh/rng";

export const TINY_VOCAB = ["[PAD]", "[MASK]", " ", "a", "b", "c", "d", "e", "f", "g"];
export const MASK = 1;

export function tempDir(prefix = "reference-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function writeTinyCheckpoint(dir: string, seed = 1, overrides: Partial<ModelConfig> = {}): void {
  const model = new MaskedTransformer(defaultGeneratorConfig(TINY_VOCAB, { seq_len: 16, n_layer: 2, n_head: 2, d_model: 32, d_ff: 64, ...overrides }), {
    seed,
  });
  model.save(dir);
  model.dispose();
}

/** A dataset metadata file (data/corpus/*.meta.json layout) with this vocabulary. */
export function writeDatasetMeta(path: string, vocab: readonly string[]): void {
  const meta = {
    format: "grpomesh.dataset.v1",
    name: "tiny",
    sha256: "0".repeat(64),
    vocab_size: vocab.length,
    vocab,
    mask_token_id: vocab.indexOf("[MASK]"),
    pad_token_id: vocab.indexOf("[PAD]"),
    split: { heldout_start: 0, train_chars: 0, heldout_chars: 0, heldout_books: [] },
  };
  writeFileSync(path, JSON.stringify(meta, null, 2));
}

export function maskedInputs(batch: number, seqLen: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const ids = new Int32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seqLen; t++) ids[b * seqLen + t] = rng.next() < 0.35 ? MASK : 2 + rng.nextInt(TINY_VOCAB.length - 2);
    ids[b * seqLen + rng.nextInt(seqLen)] = MASK;
  }
  return ids;
}
