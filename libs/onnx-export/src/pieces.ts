// Scoring many sequences as onnxruntime runs of at most N tokens (whole rows). On CPU a transformer
// forward over ≤ ~1024 tokens keeps each layer's activations in cache: ≈1.5× faster than one big
// run (measured on the bundled judge, 128 × 128 tokens, 2 threads). Shared by the judge service and
// the in-process judge of the benchmarks.

/** The default tokens per run on CPU. */
export const DEFAULT_RUN_TOKENS = 1024;

/**
 * Runs `rows` rows of `seqLen` tokens as pieces of ≤ `runTokens` tokens (0: one run) with
 * `runRows(start, count)`, which returns that piece's output data and dims; concatenates the data
 * and adds up the leading dims (so a model answering the wrong shape is still visible).
 */
export async function runInPieces(
  rows: number,
  seqLen: number,
  runTokens: number,
  runRows: (start: number, count: number) => Promise<{ data: Float32Array; dims: readonly number[] }>,
): Promise<{ data: Float32Array; dims: number[] }> {
  const rowsPerRun = runTokens > 0 ? Math.max(1, Math.floor(runTokens / seqLen)) : Math.max(rows, 1);
  const pieces: Float32Array[] = [];
  let dims: number[] = [];
  let leading = 0;
  for (let start = 0; start < rows; start += rowsPerRun) {
    const out = await runRows(start, Math.min(rowsPerRun, rows - start));
    pieces.push(out.data);
    dims = [...out.dims];
    leading += dims[0] ?? 0;
  }
  if (pieces.length === 1) return { data: pieces[0]!.slice(), dims };
  const data = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of pieces) {
    data.set(p, offset);
    offset += p.length;
  }
  if (dims.length > 0) dims[0] = leading;
  return { data, dims };
}
