// Comparing what two parties believe the vocabulary is: a checkpoint against a dataset, or a
// checkpoint against the engine already running. Ids are positions, so any difference matters.
import type { ModelConfig } from "@grpomesh/model";

import { vocabularyDifference } from "@grpomesh/data";

export { vocabularyDifference, type VocabularyView } from "@grpomesh/data";

/** The first difference between two model configs (architecture or vocabulary), or null. */
export function configDifference(mine: ModelConfig, theirs: ModelConfig, names: { model: string; other: string }): string | null {
  for (const key of Object.keys(mine) as Array<keyof ModelConfig>) {
    if (key === "vocab") continue;
    if (mine[key] !== theirs[key])
      return `${key} is ${JSON.stringify(mine[key])} in the ${names.model} but ${JSON.stringify(theirs[key])} in the ${names.other}`;
  }
  return vocabularyDifference(
    { vocab: mine.vocab, maskTokenId: mine.mask_token_id, padTokenId: mine.pad_token_id },
    { vocab: theirs.vocab, maskTokenId: theirs.mask_token_id, padTokenId: theirs.pad_token_id },
    names,
  );
}
