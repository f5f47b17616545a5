// Dataset metadata (data/corpus/<name>.meta.json): what the corpus is, its checksum, the vocabulary
// and the held-out split. Models and services take vocab and mask_token_id from here.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { chooseHeldoutSplit, DEFAULT_MAX_HELDOUT_FRACTION, DEFAULT_MIN_HELDOUT_FRACTION } from "./split.ts";
import { Vocabulary } from "./vocab.ts";

export const METADATA_FORMAT = "grpomesh.dataset.v1";

export interface CorpusSplitMetadata {
  method: "last_whole_books";
  rule: string;
  min_heldout_fraction: number;
  max_heldout_fraction: number;
  heldout_books: string[];
  /** Character (token) index where the held-out text starts: the heading of its first book. */
  heldout_start: number;
  train_chars: number;
  heldout_chars: number;
  heldout_fraction: number;
}

export interface CorpusMetadata {
  format: typeof METADATA_FORMAT;
  name: string;
  description: string;
  source: string;
  license: string;
  corpus_file: string;
  sha256: string;
  bytes: number;
  characters: number;
  vocab_size: number;
  vocab: string[];
  mask_token_id: number;
  pad_token_id: number;
  split: CorpusSplitMetadata;
}

export interface DatasetInfo {
  name: string;
  description: string;
  source: string;
  license: string;
  /** File name of the corpus, relative to the metadata file. */
  corpusFile: string;
}

export const KJV_DATASET: DatasetInfo = {
  name: "kjv",
  description: "King James Version of the Bible: one verse per line, each chapter preceded by a blank line and a heading line such as \"Genesis 1\".",
  source: "Debian package bible-kjv-text 4.38, dumped with the bible program of package bible-kjv as `bible \"Gen1:1-Rev22:21\"`, verse numbers removed and wrapped lines joined.",
  license: "public domain",
  corpusFile: "kjv.txt",
};

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Builds the metadata of a corpus (its UTF-8 bytes). Deterministic: same bytes, same metadata. */
export function buildCorpusMetadata(
  bytes: Uint8Array,
  info: DatasetInfo,
  { minFraction = DEFAULT_MIN_HELDOUT_FRACTION, maxFraction = DEFAULT_MAX_HELDOUT_FRACTION } = {},
): CorpusMetadata {
  const text = decodeUtf8(bytes, info.corpusFile);
  const vocab = Vocabulary.fromCorpus(text);
  const split = chooseHeldoutSplit(text, { minFraction, maxFraction });
  const characters = split.trainChars + split.heldoutChars;
  return {
    format: METADATA_FORMAT,
    name: info.name,
    description: info.description,
    source: info.source,
    license: info.license,
    corpus_file: info.corpusFile,
    sha256: sha256Hex(bytes),
    bytes: bytes.byteLength,
    characters,
    vocab_size: vocab.size,
    vocab: [...vocab.tokens],
    mask_token_id: vocab.maskTokenId,
    pad_token_id: vocab.padTokenId,
    split: {
      method: "last_whole_books",
      rule: `the smallest run of whole books at the end of the corpus holding at least ${minFraction * 100}% of its characters (refused above ${maxFraction * 100}%); a book starts at a chapter heading "<Book> 1" at the start of the text or after a blank line`,
      min_heldout_fraction: minFraction,
      max_heldout_fraction: maxFraction,
      heldout_books: split.books,
      heldout_start: split.start,
      train_chars: split.trainChars,
      heldout_chars: split.heldoutChars,
      heldout_fraction: Math.round((split.heldoutChars / characters) * 1e6) / 1e6,
    },
  };
}

/** The committed file's exact text (two-space JSON, trailing newline). */
export function formatCorpusMetadata(meta: CorpusMetadata): string {
  return JSON.stringify(meta, null, 2) + "\n";
}

/** Reads and checks a metadata file's shape; the corpus itself is checked by `verifyCorpusBytes`. */
export function readCorpusMetadata(path: string): CorpusMetadata {
  let meta: CorpusMetadata;
  try {
    meta = JSON.parse(readFileSync(path, "utf8")) as CorpusMetadata;
  } catch (err) {
    throw new Error(`cannot read dataset metadata ${path}: ${(err as Error).message}; rebuild it with \`node --import tsx libs/data/src/build-metadata.ts\``);
  }
  const problems: string[] = [];
  if (meta?.format !== METADATA_FORMAT) problems.push(`format is ${JSON.stringify(meta?.format)}; expected "${METADATA_FORMAT}"`);
  if (typeof meta?.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(meta.sha256)) problems.push(`sha256 is ${JSON.stringify(meta?.sha256)}; expected 64 hex digits`);
  if (!Array.isArray(meta?.vocab)) problems.push(`vocab is missing; expected an array of tokens in id order`);
  const split = meta?.split;
  if (!split || !Number.isInteger(split.heldout_start) || !Number.isInteger(split.train_chars) || !Number.isInteger(split.heldout_chars) || !Array.isArray(split.heldout_books)) {
    problems.push(`split is incomplete; expected heldout_start, train_chars, heldout_chars and heldout_books`);
  }
  if (problems.length) throw new Error(`dataset metadata ${path}: ${problems.join("; ")}`);
  return meta;
}

/** Refuses a corpus whose bytes are not the ones the metadata was built from. */
export function verifyCorpusBytes(bytes: Uint8Array, meta: CorpusMetadata, corpusPath: string, metaPath: string): void {
  const actual = sha256Hex(bytes);
  if (actual !== meta.sha256) {
    throw new Error(
      `${corpusPath} has sha256 ${actual}; ${metaPath} expects ${meta.sha256}. The corpus changed since its metadata was built: ` +
        `restore the original corpus, or rebuild the metadata with \`node --import tsx libs/data/src/build-metadata.ts\` (vocabulary and split may change, so retrain models)`,
    );
  }
}

export function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${source} is not valid UTF-8; expected a UTF-8 (or ASCII) text file`);
  }
}
