// Rewrites the dataset metadata from the corpus:
//   node --import tsx libs/data/src/build-metadata.ts [corpus.txt] [out.meta.json]
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseCommandLine } from "@grpomesh/config";
import { DEFAULT_CORPUS_PATH, metadataPathFor } from "./corpus.ts";
import { buildCorpusMetadata, formatCorpusMetadata, KJV_DATASET } from "./metadata.ts";

const { positional } = parseCommandLine({}, "node --import tsx libs/data/src/build-metadata.ts [corpus.txt] [out.meta.json]", {
  maxPositional: 2,
  intro: "Rewrites the dataset metadata (vocabulary, split, digest) from the corpus; default data/corpus/kjv.txt and the .meta.json beside it.",
});
const corpusPath = positional[0] ?? DEFAULT_CORPUS_PATH;
const outPath = positional[1] ?? metadataPathFor(corpusPath);
const info = basename(corpusPath) === KJV_DATASET.corpusFile
  ? KJV_DATASET
  : { name: basename(corpusPath).replace(/\.[^.]*$/, ""), description: "", source: "unspecified", license: "unspecified", corpusFile: basename(corpusPath) };

const meta = buildCorpusMetadata(readFileSync(corpusPath), info);
// Write beside and rename, so a crash never leaves half a file.
writeFileSync(`${outPath}.tmp`, formatCorpusMetadata(meta));
renameSync(`${outPath}.tmp`, outPath);
const s = meta.split;
console.log(
  `wrote ${outPath}: ${meta.characters} characters, vocab ${meta.vocab_size}, sha256 ${meta.sha256.slice(0, 12)}…, ` +
    `held-out ${s.heldout_books[0]}…${s.heldout_books[s.heldout_books.length - 1]} (${s.heldout_books.length} books, ${s.heldout_chars} characters, ${(s.heldout_fraction * 100).toFixed(2)}%)`,
);
