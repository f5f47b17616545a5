import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DEFAULT_CORPUS_PATH,
  KJV_DATASET,
  Vocabulary,
  buildCorpusMetadata,
  formatCorpusMetadata,
  metadataPathFor,
  readCorpusMetadata,
  sha256Hex,
} from "./index.ts";

const KJV_SHA256 = "247dee2b63b7f3f48b5792010ea35365a444b74257d6d7b9251f087144ed3964";

test("the committed kjv.meta.json is exactly what buildCorpusMetadata makes from kjv.txt", () => {
  const bytes = readFileSync(DEFAULT_CORPUS_PATH);
  const expected = formatCorpusMetadata(buildCorpusMetadata(bytes, KJV_DATASET));
  const committed = readFileSync(metadataPathFor(DEFAULT_CORPUS_PATH), "utf8");
  assert.equal(committed, expected, "data/corpus/kjv.meta.json is stale: run `node --import tsx libs/data/src/build-metadata.ts`");
});

test("KJV metadata: checksum, the 75-token vocabulary and a 3–5% held-out split of whole books", () => {
  const meta = readCorpusMetadata(metadataPathFor(DEFAULT_CORPUS_PATH));
  assert.equal(meta.sha256, KJV_SHA256);
  assert.equal(meta.characters, 4152016);
  assert.equal(meta.vocab_size, 75);
  assert.deepEqual(meta.vocab.slice(0, 5), ["[PAD]", "[MASK]", "\n", " ", "!"]);
  assert.equal(meta.mask_token_id, 1);
  assert.equal(meta.pad_token_id, 0);
  const v = Vocabulary.fromJSON(meta);
  assert.equal(v.size, 75);
  const s = meta.split;
  assert.equal(s.heldout_books[0], "Hebrews");
  assert.equal(s.heldout_books.at(-1), "Revelation");
  assert.equal(s.train_chars + s.heldout_chars, meta.characters);
  assert.ok(s.heldout_fraction >= 0.03 && s.heldout_fraction <= 0.05, `held-out fraction ${s.heldout_fraction}`);
});

test("readCorpusMetadata names what is wrong with a bad file", () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-meta-"));
  try {
    const path = join(dir, "x.meta.json");
    const bad = { format: "other", sha256: "xyz", split: {} };
    writeFileSync(path, JSON.stringify(bad));
    assert.throws(() => readCorpusMetadata(path), (err: Error) => {
      assert.match(err.message, /format is "other"; expected "grpomesh.dataset.v1"/);
      assert.match(err.message, /sha256 is "xyz"; expected 64 hex digits/);
      assert.match(err.message, /vocab is missing/);
      assert.match(err.message, /split is incomplete/);
      return true;
    });
    writeFileSync(path, "{not json");
    assert.throws(() => readCorpusMetadata(path), /cannot read dataset metadata .*x\.meta\.json: .*rebuild it with/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the build-metadata CLI writes the metadata of the corpus it is given", () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-meta-"));
  try {
    const corpus = join(dir, "tiny.txt");
    const text = "A 1\n" + "a verse.\n".repeat(90) + "\nB 1\n" + "b verse!\n".repeat(4);
    writeFileSync(corpus, text);
    const cli = fileURLToPath(new URL("./build-metadata.ts", import.meta.url));
    const run = spawnSync(process.execPath, ["--import", "tsx", cli, corpus], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.stdout.includes(`tiny.meta.json: ${text.length} characters, vocab ${Vocabulary.fromCorpus(text).size},`), run.stdout);
    const written = JSON.parse(readFileSync(join(dir, "tiny.meta.json"), "utf8"));
    assert.equal(written.sha256, sha256Hex(Buffer.from(text)));
    assert.equal(written.name, "tiny");
    assert.deepEqual(written.split.heldout_books, ["B"]);
    assert.equal(written.split.heldout_start, text.indexOf("B 1"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
