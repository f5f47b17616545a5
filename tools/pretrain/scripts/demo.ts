// Fills masked characters of held-out windows with a checkpoint (default models/generator).
//   node --import tsx tools/pretrain/scripts/demo.ts [checkpoint-dir]
import { DEFAULT_MASKING, fixedEvalBatches, loadCorpus } from "@grpomesh/data";
import { initBackend, MaskedTransformer, sampleFillIns } from "@grpomesh/model";

await initBackend(undefined, { log: false });
const model = MaskedTransformer.fromCheckpoint(process.argv[2] ?? "models/generator");
const corpus = loadCorpus();
const T = model.config.seq_len;
const [batch] = fixedEvalBatches(corpus.heldout, {
  count: 1,
  batchSize: 3,
  seqLen: T,
  seed: 7,
  masking: DEFAULT_MASKING,
  maskTokenId: model.config.mask_token_id,
});
const out = await sampleFillIns(model, batch!.inputs, {
  batch: 3,
  seqLen: T,
  maskTokenId: model.config.mask_token_id,
  groupSize: 1,
  temperature: 0.8,
  topP: 0.95,
  seed: 1,
});
const show = (ids: Int32Array) => JSON.stringify([...ids].map((i) => (i === model.config.mask_token_id ? "_" : model.config.vocab[i])).join(""));
for (let b = 0; b < 3; b++) {
  console.log("masked  ", show(batch!.inputs.subarray(b * T, (b + 1) * T)));
  console.log("filled  ", show(out.completions.subarray(b * T, (b + 1) * T)));
  console.log("original", show(batch!.targets.subarray(b * T, (b + 1) * T)));
}
