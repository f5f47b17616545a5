import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { BANNED_LOGIT, initBackend } from "@grpomesh/model";
import { PolicyEngine } from "./policy.ts";
import { TfjsBackend } from "./backends/tfjs.ts";
import { ReferenceEngine } from "./reference.ts";
import { vocabularyDifference } from "./vocab.ts";
import { buildUpdate, caught, maskedInputs, MASK, PAD, tempDir, tinyModel, TINY_VOCAB } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

const V = TINY_VOCAB.length;
const dir = tempDir();
tinyModel(1).save(`${dir.path}/gen`);
after(() => dir.remove());

test("logProbs: [B, T, V] log-softmax at τ at masked positions, zeros elsewhere, specials at ≈ −1e9", async () => {
  const ref = await ReferenceEngine.fromCheckpoint(`${dir.path}/gen`);
  const B = 3,
    T = 16,
    tau = 0.7;
  const inputs = maskedInputs(B, T, 3);
  const lp = await ref.logProbs(inputs, { batch: B, seqLen: T }, tau);
  assert.equal(lp.length, B * T * V);
  for (let p = 0; p < B * T; p++) {
    const row = lp.subarray(p * V, (p + 1) * V);
    if (inputs[p] !== MASK) {
      assert.ok(
        row.every((x) => x === 0),
        `unmasked position ${p} must be zeros`,
      );
      continue;
    }
    let mass = 0;
    for (let v = 0; v < V; v++) if (v !== MASK && v !== PAD) mass += Math.exp(row[v]!);
    assert.ok(Math.abs(mass - 1) < 1e-5, `position ${p}: probabilities sum to ${mass}`);
    assert.ok(row[MASK]! < BANNED_LOGIT / 2 && row[PAD]! < BANNED_LOGIT / 2);
  }
  // the temperature matters: a hotter distribution is flatter
  const hot = await ref.logProbs(inputs, { batch: B, seqLen: T }, 5);
  assert.notDeepEqual(hot, lp);
  ref.dispose();
});

test("the reference equals the policy it started from, and completion log-probs agree with Sample's", async () => {
  const ref = await ReferenceEngine.fromCheckpoint(`${dir.path}/gen`);
  const policy = await PolicyEngine.fromCheckpoint(`${dir.path}/gen`);
  assert.equal(ref.weightsDigest, (await policy.state()).weightsDigest);
  const B = 2,
    T = 16,
    k = 3;
  const inputs = maskedInputs(B, T, 9);
  const sampled = await policy.sample(inputs, { batch: B, seqLen: T }, { temperature: 0.8, topP: 1, groupSize: k, seed: "77" });
  const scored = await ref.score(inputs, { batch: B, seqLen: T }, 0.8, { completions: sampled.completions, groupSize: k });
  for (let s = 0; s < B * k; s++)
    assert.ok(Math.abs(scored.completionLogProbs![s]! - sampled.logProbs[s]!) < 1e-4, `${scored.completionLogProbs![s]} vs ${sampled.logProbs[s]}`);
  policy.dispose();
  ref.dispose();
});

test("reference weights never change (tfjs): nothing trainable, digest fixed while a policy trains beside it", async () => {
  const ref = await ReferenceEngine.fromCheckpoint(`${dir.path}/gen`, { engine: "tfjs" });
  const policy = await PolicyEngine.fromCheckpoint(`${dir.path}/gen`, { engine: "tfjs" });
  assert.equal(ref.hasTrainableVariables(), false);
  for (let step = 1; step <= 3; step++) await policy.update(await buildUpdate(policy, ref, step));
  // what tf.variableGrads() with no list would differentiate: every trainable variable in the process
  const trainable = Object.values(tf.engine().registeredVariables)
    .filter((v) => v.trainable)
    .map((v) => v.name);
  const mine = new Set([...variablesOf(ref).values()].map((v) => v.name));
  assert.ok(trainable.length > 0 && trainable.every((n) => !mine.has(n)), "no reference variable may be trainable");
  assert.notEqual((await policy.state()).weightsDigest, ref.weightsDigest);
  assert.equal(await ref.currentWeightsDigest(), ref.weightsDigest);
  policy.dispose();
  ref.dispose();
});

test("a checkpoint whose vocabulary differs from the dataset's is refused, naming the first difference", async () => {
  const data = { vocab: [...TINY_VOCAB], maskTokenId: 1, padTokenId: 0, source: "tiny.meta.json" };
  const ok = await ReferenceEngine.fromCheckpoint(`${dir.path}/gen`, { datasetVocabulary: data });
  ok.dispose();
  const swapped = [...TINY_VOCAB];
  [swapped[4], swapped[5]] = [swapped[5]!, swapped[4]!];
  const err = await caught(() => ReferenceEngine.fromCheckpoint(`${dir.path}/gen`, { datasetVocabulary: { ...data, vocab: swapped } }));
  assert.equal(err.grpcCode, 9);
  assert.match(err.message, /token id 4 is "b" in the checkpoint .*gen but "c" in the dataset tiny\.meta\.json/);
  const longer = await caught(() => ReferenceEngine.fromCheckpoint(`${dir.path}/gen`, { datasetVocabulary: { ...data, vocab: [...TINY_VOCAB, "h"] } }));
  assert.match(longer.message, /has 10 tokens and the dataset tiny\.meta\.json 11; the dataset tiny\.meta\.json goes on with id 10 = "h"/);
  assert.equal(
    vocabularyDifference({ vocab: ["a"], maskTokenId: 0 }, { vocab: ["a"], maskTokenId: 1 }),
    "mask_token_id is 0 in the checkpoint but 1 in the dataset",
  );
  assert.equal(vocabularyDifference({ vocab: ["a", "b"] }, { vocab: ["a", "b"] }), null);
  const missing = await caught(() => ReferenceEngine.fromCheckpoint(`${dir.path}/none`));
  assert.equal(missing.grpcCode, 5);
});

test("bad LogProbs requests are refused with their status codes", async () => {
  const ref = new ReferenceEngine(tinyModel(2), { limits: { maxBatch: 4, maxCompletions: 8 } });
  const T = 16; // the tiny model's seq_len
  const inputs = maskedInputs(2, T, 1);
  const shape = { batch: 2, seqLen: T };
  const unmasked = inputs.findIndex((x) => x !== MASK);
  const masked = inputs.findIndex((x) => x === MASK);
  /** Completions [2, 2, T] that fill every masked position with token 2 and copy the rest. */
  const fillIns = () =>
    Int32Array.from({ length: 2 * 2 * T }, (_, n) => {
      const x = inputs[Math.floor(n / (2 * T)) * T + (n % T)]!;
      return x === MASK ? 2 : x;
    });
  const at = (member: number, pos: number, value: number) => {
    const c = fillIns();
    c[Math.floor(pos / T) * 2 * T + member * T + (pos % T)] = value;
    return c;
  };
  const other = (x: number) => (x === 3 ? 4 : 3);
  const cases: Array<[string, () => Promise<unknown>, number, RegExp]> = [
    ["zero temperature", () => ref.logProbs(inputs, shape, 0), 3, /temperature is 0/],
    ["NaN temperature", () => ref.logProbs(inputs, shape, NaN), 3, /temperature is NaN/],
    ["wrong shape", () => ref.logProbs(inputs, { batch: 3, seqLen: T }, 1), 3, /inputs holds 32 ids; expected \[B, T\] = \[3, 16\] = 48/],
    [
      "too long",
      () => ref.logProbs(new Int32Array(34), { batch: 2, seqLen: 17 }, 1),
      3,
      /inputs have 17 positions; this model's seq_len is 16\. Send sequences of exactly 16 tokens/,
    ],
    [
      "too short",
      () => ref.logProbs(maskedInputs(2, 12, 1), { batch: 2, seqLen: 12 }, 1),
      3,
      /inputs have 12 positions; this model's seq_len is 16\. Send sequences of exactly 16 tokens \(inputs of shape \[B, 16\]\)/,
    ],
    [
      "id out of range",
      () =>
        ref.logProbs(
          Int32Array.from(inputs, (x, i) => (i === 3 ? 10 : x)),
          shape,
          1,
        ),
      3,
      /inputs\[3\] is 10/,
    ],
    ["batch above the cap", () => ref.logProbs(new Int32Array(5 * T), { batch: 5, seqLen: T }, 1), 8, /at most 4 per request/],
    ["completions above the cap", () => ref.score(inputs, shape, 1, { completions: new Int32Array(2 * 5 * T), groupSize: 5 }), 8, /2 × 5 = 10 completions/],
    ["completions of the wrong size", () => ref.score(inputs, shape, 1, { completions: new Int32Array(3), groupSize: 2 }), 3, /completions holds 3 ids/],
    [
      "a completion that contradicts its input at an unmasked position",
      () => ref.score(inputs, shape, 1, { completions: at(1, unmasked, other(inputs[unmasked]!)), groupSize: 2 }),
      3,
      new RegExp(
        `completions\\[input ${Math.floor(unmasked / T)}, member 1, position ${unmasked % T}\\] is ${other(inputs[unmasked]!)} but the input holds ${inputs[unmasked]} there; completions must equal their inputs at unmasked positions`,
      ),
    ],
    [
      "a masked position filled with [MASK]",
      () => ref.score(inputs, shape, 1, { completions: at(0, masked, MASK), groupSize: 2 }),
      3,
      /is the \[MASK\] token \(1\); a fill-in never produces special tokens/,
    ],
    [
      "a masked position filled with [PAD]",
      () => ref.score(inputs, shape, 1, { completions: at(0, masked, PAD), groupSize: 2 }),
      3,
      /is the \[PAD\] token \(0\)/,
    ],
  ];
  for (const [name, call, code, message] of cases) {
    const err = await caught(call);
    assert.equal(err.grpcCode, code, `${name}: ${err.message}`);
    assert.match(err.message, message, name);
  }
  // The same request with agreeing completions is answered.
  const ok = await ref.score(inputs, shape, 1, { completions: fillIns(), groupSize: 2 });
  assert.equal(ok.completionLogProbs!.length, 4);
  assert.ok(ok.completionLogProbs!.every(Number.isFinite));
  ref.dispose();
});

test("no tensor leaks over repeated LogProbs", async () => {
  const ref = new ReferenceEngine(tinyModel(2));
  const inputs = maskedInputs(4, 16, 5);
  // Two members per input, each the input with token 3 at its masked positions.
  const fillIn = Int32Array.from({ length: 4 * 2 * 16 }, (_, n) => {
    const x = inputs[Math.floor(n / 32) * 16 + (n % 16)]!;
    return x === MASK ? 3 : x;
  });
  await ref.logProbs(inputs, { batch: 4, seqLen: 16 }, 0.8);
  const baseline = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    await ref.score(inputs, { batch: 4, seqLen: 16 }, 0.8, { completions: fillIn, groupSize: 2 });
    await caught(() => ref.logProbs(inputs, { batch: 4, seqLen: 16 }, -1));
  }
  assert.equal(tf.memory().numTensors, baseline);
  const variables = variablesOf(ref).size;
  ref.dispose();
  assert.equal(tf.memory().numTensors, baseline - variables, "dispose frees the weights");
});

function variablesOf(ref: ReferenceEngine): Map<string, tf.Variable> {
  assert.ok(ref.backend instanceof TfjsBackend, "this helper reads a tfjs reference's variables");
  return ref.backend.model.variables;
}
