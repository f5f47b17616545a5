// The dataset: vocabulary, corpus metadata and split, masking strategies and deterministic batches.
export { MASK_TOKEN, PAD_TOKEN, Vocabulary, VocabularyError, describeChar, readVocabularyFile, type VocabularyJSON } from "./vocab.ts";
export { chooseHeldoutSplit, findBooks, DEFAULT_MAX_HELDOUT_FRACTION, DEFAULT_MIN_HELDOUT_FRACTION, type Book, type HeldoutSplit } from "./split.ts";
export {
  KJV_DATASET,
  METADATA_FORMAT,
  buildCorpusMetadata,
  formatCorpusMetadata,
  readCorpusMetadata,
  sha256Hex,
  verifyCorpusBytes,
  type CorpusMetadata,
  type CorpusSplitMetadata,
  type DatasetInfo,
} from "./metadata.ts";
export { DEFAULT_CORPUS_PATH, REPO_ROOT, loadCorpus, metadataPathFor, type Corpus } from "./corpus.ts";
export { DEFAULT_MASKING, checkMasking, drawMask, type MaskingSpec, type MixedMasking, type RandomMasking, type SpanMasking } from "./masking.ts";
export {
  MaskedBatchStream,
  fixedEvalBatches,
  type EvalBatchOptions,
  type MaskedBatch,
  type MaskedBatchStreamOptions,
  type StreamBatch,
  type StreamCursor,
} from "./stream.ts";
export { vocabularyDifference, type VocabularyView } from "./vocab-difference.ts";
