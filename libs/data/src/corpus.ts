// Loads the corpus as token ids, checked against its metadata, split into train and held-out parts
// that share no memory (training code cannot reach held-out ids through a view's buffer).
import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeUtf8, readCorpusMetadata, verifyCorpusBytes, type CorpusMetadata } from "./metadata.ts";
import { Vocabulary } from "./vocab.ts";

/** The repository root, found from this file (libs/data/src/corpus.ts), so any cwd works. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const DEFAULT_CORPUS_PATH = join(REPO_ROOT, "data", "corpus", "kjv.txt");

/** data/corpus/kjv.txt → data/corpus/kjv.meta.json */
export function metadataPathFor(corpusPath: string): string {
  const name = basename(corpusPath).replace(/\.[^.]*$/, "");
  return join(dirname(corpusPath), `${name}.meta.json`);
}

export interface Corpus {
  vocab: Vocabulary;
  train: Int32Array;
  heldout: Int32Array;
  meta: CorpusMetadata;
}

export function loadCorpus(path: string = DEFAULT_CORPUS_PATH, metaPath: string = metadataPathFor(path)): Corpus {
  const meta = readCorpusMetadata(metaPath);
  const bytes = readFileSync(path);
  verifyCorpusBytes(bytes, meta, path, metaPath);
  const text = decodeUtf8(bytes, path);
  const vocab = Vocabulary.fromJSON(meta);
  const ids = vocab.encode(text, { source: basename(path) });

  const { heldout_start: start, train_chars: trainChars, heldout_chars: heldoutChars, heldout_books: books } = meta.split;
  if (start !== trainChars || trainChars + heldoutChars !== ids.length) {
    throw new Error(
      `${metaPath}: split has heldout_start ${start}, train_chars ${trainChars}, heldout_chars ${heldoutChars} but the corpus has ${ids.length} characters; ` +
        `expected heldout_start = train_chars and train_chars + heldout_chars = ${ids.length}: rebuild the metadata`,
    );
  }
  // The split must fall on a book start: the first book's chapter-1 heading, after a blank line.
  const heading = `${books[0]} 1\n`;
  const before = start === 0 ? "" : vocab.decode(ids.subarray(Math.max(0, start - 2), start));
  const at = vocab.decode(ids.subarray(start, start + heading.length));
  if (at !== heading || (start > 0 && !before.endsWith("\n\n"))) {
    throw new Error(`${metaPath}: held-out text at character ${start} starts with ${JSON.stringify(at)}; expected the book heading ${JSON.stringify(heading)} after a blank line: rebuild the metadata`);
  }
  return { vocab, train: ids.slice(0, start), heldout: ids.slice(start), meta };
}
