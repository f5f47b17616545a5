import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_CORPUS_PATH,
  DEFAULT_MASKING,
  KJV_DATASET,
  MaskedBatchStream,
  buildCorpusMetadata,
  findBooks,
  formatCorpusMetadata,
  loadCorpus,
  metadataPathFor,
} from "./index.ts";

const HEBREWS_1_1 = "God, who at sundry times and in divers manners spake in time past unto the fathers by the prophets,";
const REVELATION_1_1 = "The Revelation of Jesus Christ, which God gave unto him";

test("loadCorpus splits the KJV at the start of Hebrews; the parts share no memory and cover the corpus", () => {
  const cwd = process.cwd();
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-cwd-"));
  let corpus;
  try {
    process.chdir(dir); // the default path must not depend on the working directory
    corpus = loadCorpus();
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
  const { vocab, train, heldout, meta } = corpus;
  assert.equal(vocab.size, 75);
  assert.equal(train.length, meta.split.train_chars);
  assert.equal(heldout.length, meta.split.heldout_chars);
  assert.notEqual(train.buffer, heldout.buffer);
  assert.equal(train.buffer.byteLength, train.byteLength, "train must not be a view into a larger buffer");
  assert.equal(heldout.buffer.byteLength, heldout.byteLength);

  const text = readFileSync(DEFAULT_CORPUS_PATH, "utf8");
  const trainText = vocab.decode(train);
  const heldoutText = vocab.decode(heldout);
  assert.equal(trainText + heldoutText, text);
  // The boundary is a book start: a blank line, then the book's first chapter heading.
  assert.ok(trainText.endsWith(".\n\n"));
  assert.ok(heldoutText.startsWith("Hebrews 1\n" + HEBREWS_1_1));
  const bookStarts = new Set(findBooks(text).map((b) => b.start));
  assert.ok(bookStarts.has(train.length));
  // Held-out verses are nowhere in the training text.
  for (const verse of [HEBREWS_1_1, REVELATION_1_1, "Jude, the servant of Jesus Christ, and brother of James"]) {
    assert.ok(heldoutText.includes(verse), verse);
    assert.ok(!trainText.includes(verse), `training text contains held-out verse "${verse}"`);
  }
});

test("no training window reaches held-out text", () => {
  const { vocab, train, heldout } = loadCorpus();
  const seqLen = 256;
  const stream = new MaskedBatchStream({ ids: train, seqLen, batchSize: 64, seed: 5, masking: DEFAULT_MASKING, maskTokenId: vocab.maskTokenId });
  let maxEnd = 0;
  for (let n = 0; n < 200; n++) {
    const batch = stream.next();
    for (let b = 0; b < batch.batchSize; b++) {
      const start = batch.starts[b]!;
      maxEnd = Math.max(maxEnd, start + seqLen);
      assert.deepEqual(batch.targets.subarray(b * seqLen, (b + 1) * seqLen), train.subarray(start, start + seqLen));
    }
  }
  assert.ok(maxEnd <= train.length);
  // 12,800 windows of 256 over 4M characters: the last 1% of the training text is reached.
  assert.ok(maxEnd > train.length * 0.99, `windows never came near the end of train (max end ${maxEnd} of ${train.length})`);
  assert.ok(heldout.length > 0);
});

test("loadCorpus refuses a corpus whose sha256 differs from its metadata", () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-corpus-"));
  try {
    const corpus = join(dir, "kjv.txt");
    copyFileSync(DEFAULT_CORPUS_PATH, corpus);
    copyFileSync(metadataPathFor(DEFAULT_CORPUS_PATH), join(dir, "kjv.meta.json"));
    assert.equal(loadCorpus(corpus).train.length > 0, true);
    const bytes = readFileSync(corpus);
    bytes[100] = bytes[100] === 0x61 ? 0x62 : 0x61;
    writeFileSync(corpus, bytes);
    assert.throws(() => loadCorpus(corpus), (err: Error) => {
      assert.match(err.message, /kjv\.txt has sha256 [0-9a-f]{64}; .*kjv\.meta\.json expects 247dee2b63b7f3f48b5792010ea35365a444b74257d6d7b9251f087144ed3964/);
      assert.match(err.message, /restore the original corpus, or rebuild the metadata/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("loadCorpus refuses metadata whose split does not fall on a book start", () => {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-corpus-"));
  try {
    const text = "A 1\n" + "a verse.\n".repeat(90) + "\nB 1\n" + "b verse!\n".repeat(4);
    const corpus = join(dir, "tiny.txt");
    writeFileSync(corpus, text);
    const meta = buildCorpusMetadata(Buffer.from(text), { ...KJV_DATASET, corpusFile: "tiny.txt" });
    writeFileSync(metadataPathFor(corpus), formatCorpusMetadata(meta));
    const ok = loadCorpus(corpus);
    assert.equal(ok.vocab.decode(ok.heldout).slice(0, 4), "B 1\n");

    const shifted = { ...meta, split: { ...meta.split, heldout_start: meta.split.heldout_start - 1, train_chars: meta.split.train_chars - 1, heldout_chars: meta.split.heldout_chars + 1 } };
    writeFileSync(metadataPathFor(corpus), JSON.stringify(shifted));
    assert.throws(() => loadCorpus(corpus), /held-out text at character \d+ starts with "\\nB 1"; expected the book heading "B 1\\n" after a blank line/);

    const short = { ...meta, split: { ...meta.split, heldout_chars: 3 } };
    writeFileSync(metadataPathFor(corpus), JSON.stringify(short));
    assert.throws(() => loadCorpus(corpus), /but the corpus has \d+ characters; expected heldout_start = train_chars and train_chars \+ heldout_chars = \d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
