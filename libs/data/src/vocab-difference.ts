// Comparing what two parties believe the vocabulary is — a checkpoint, a dataset, a judge. Ids
// are positions, so any difference matters. Lives with the vocabulary (no tfjs) so the
// orchestrator can use it too.

export interface VocabularyView {
  vocab: readonly string[];
  maskTokenId?: number;
  padTokenId?: number;
}

/** The first difference between two vocabularies as a sentence, or null when they agree. */
export function vocabularyDifference(model: VocabularyView, other: VocabularyView, names: { model: string; other: string } = { model: "checkpoint", other: "dataset" }): string | null {
  const a = model.vocab;
  const b = other.vocab;
  const n = Math.min(a.length, b.length);
  for (let id = 0; id < n; id++) {
    if (a[id] !== b[id]) {
      return `token id ${id} is ${JSON.stringify(a[id])} in the ${names.model} but ${JSON.stringify(b[id])} in the ${names.other}` +
        (a.length !== b.length ? ` (and the ${names.model} has ${a.length} tokens, the ${names.other} ${b.length})` : "");
    }
  }
  if (a.length !== b.length) {
    const longer = a.length > b.length ? names.model : names.other;
    const extra = (a.length > b.length ? a : b)[n];
    return `the ${names.model} has ${a.length} tokens and the ${names.other} ${b.length}; the ${longer} goes on with id ${n} = ${JSON.stringify(extra)}`;
  }
  for (const key of ["maskTokenId", "padTokenId"] as const) {
    const x = model[key];
    const y = other[key];
    if (x !== undefined && y !== undefined && x !== y) {
      return `${key === "maskTokenId" ? "mask_token_id" : "pad_token_id"} is ${x} in the ${names.model} but ${y} in the ${names.other}`;
    }
  }
  return null;
}
