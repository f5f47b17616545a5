import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { GraphBuilder, TensorProto_DataType, valueInfo } from "@grpomesh/autodiff/graph";
import type { Dim } from "@grpomesh/autodiff/graph";
import { inspectJudgeModel, JudgeContractError, readModelMetadata } from "./contract.ts";

const VOCAB = ["[PAD]", "[MASK]", "a", "b", "c"];
const T = TensorProto_DataType;

interface TinyJudgeSpec {
  inputType?: TensorProto_DataType;
  inputDims?: Dim[] | null;
  outputType?: TensorProto_DataType;
  outputDims?: Dim[] | null;
  outputName?: string;
  extraInput?: boolean;
  extraOutput?: boolean;
  initializerAsInput?: boolean;
  metadata?: Record<string, string>;
}

const GOOD_METADATA = { "grpomesh.model_type": "sequence_scorer", "grpomesh.vocab": JSON.stringify(VOCAB), "grpomesh.version": "tiny-1" };

/** A runnable scorer (mean of the ids) whose declared types, shapes and metadata the test picks. */
function tinyJudge(spec: TinyJudgeSpec = {}): Uint8Array {
  const g = new GraphBuilder();
  const inputType = spec.inputType ?? T.INT64;
  const tokens = g.input("tokens", inputType, spec.inputDims === undefined ? ["batch", 4] : spec.inputDims);
  const asFloat = inputType === T.FLOAT ? tokens : g.node("Cast", [tokens], { attrs: { to: T.FLOAT } });
  const outDims = spec.outputDims === undefined ? ["batch"] : spec.outputDims;
  const keep = outDims !== null && outDims.length === 2 ? 1 : 0;
  let score = g.node("ReduceMean", [asFloat], { attrs: { axes: [1], keepdims: keep } });
  if (spec.initializerAsInput) {
    const w = g.initializer("w", [], Float32Array.of(2));
    g.inputs.push(valueInfo("w", T.FLOAT, []));
    score = g.node("Mul", [score, w]);
  }
  if (spec.extraInput) {
    const bias = g.input("bias", T.FLOAT, ["batch"]);
    score = g.node("Add", [score, bias]);
  }
  if ((spec.outputType ?? T.FLOAT) !== T.FLOAT) score = g.node("Cast", [score], { attrs: { to: spec.outputType! } });
  g.output(score, spec.outputName ?? "score", spec.outputType ?? T.FLOAT, outDims);
  if (spec.extraOutput) g.output(asFloat, "aux", T.FLOAT, ["batch", 4]);
  return g.toModel({ metadata: spec.metadata ?? GOOD_METADATA });
}

function assertContractError(bytes: Uint8Array, message: string | RegExp): void {
  assert.throws(
    () => inspectJudgeModel(bytes),
    (err: unknown) => {
      assert.ok(err instanceof JudgeContractError, `expected JudgeContractError, got ${String(err)}`);
      if (typeof message === "string") assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

test("a conforming judge is described, and scores through onnxruntime", async () => {
  const bytes = tinyJudge();
  const session = await ort.InferenceSession.create(bytes);
  const info = inspectJudgeModel(bytes, session);
  assert.deepEqual(
    { ...info, metadata: undefined },
    {
      inputName: "tokens",
      inputDtype: "int64",
      seqLen: 4,
      outputName: "score",
      outputShape: ["batch"],
      vocab: VOCAB,
      version: "tiny-1",
      modelType: "sequence_scorer",
      metadata: undefined,
    },
  );
  assert.equal(info.name, undefined);
  assert.equal(info.metadata["grpomesh.version"], "tiny-1");
  const out = await session.run({ tokens: new ort.Tensor("int64", BigInt64Array.of(1n, 2n, 3n, 4n, 0n, 0n, 0n, 4n), [2, 4]) });
  assert.deepEqual([...(out.score!.data as Float32Array)], [2.5, 1]);
});

test("int32 ids, a dynamic seq_len, a [batch, 1] output and a name are all accepted", async () => {
  const bytes = tinyJudge({
    inputType: T.INT32,
    inputDims: ["n", "seq"],
    outputDims: ["n", 1],
    metadata: { ...GOOD_METADATA, "grpomesh.name": "tiny judge" },
  });
  const info = inspectJudgeModel(bytes, await ort.InferenceSession.create(bytes));
  assert.equal(info.inputDtype, "int32");
  assert.equal(info.seqLen, null);
  assert.deepEqual(info.outputShape, ["n", 1]);
  assert.equal(info.name, "tiny judge");
});

test("an unnamed (unknown) batch dim counts as dynamic", () => {
  const info = inspectJudgeModel(tinyJudge({ inputDims: [null, 4], outputDims: [null] }));
  assert.deepEqual(info.outputShape, [null]);
});

test("initializers that older exporters list as graph inputs are not counted as inputs", () => {
  const info = inspectJudgeModel(tinyJudge({ initializerAsInput: true }));
  assert.equal(info.inputName, "tokens");
});

test("input problems are named with what was found and what was expected", () => {
  assertContractError(tinyJudge({ extraInput: true }), 'model has 2 inputs ("tokens", "bias"); expected exactly one input of token ids [batch, seq_len]');
  assertContractError(tinyJudge({ inputType: T.FLOAT }), 'input "tokens" is float32; expected int64 or int32 token ids');
  assertContractError(
    tinyJudge({ inputDims: [1, 4] }),
    'input "tokens" has shape [1, 4] with a fixed batch of 1; expected [batch, seq_len] with a dynamic batch (export with dim_param "batch")',
  );
  assertContractError(tinyJudge({ inputDims: ["batch", 4, 3] }), 'input "tokens" has shape [batch, 4, 3]; expected [batch, seq_len]');
  assertContractError(tinyJudge({ inputDims: null }), 'input "tokens" has no declared shape; expected [batch, seq_len] with a dynamic batch');
});

test("output problems are named with what was found and what was expected", () => {
  assertContractError(tinyJudge({ outputName: "logits", outputDims: ["batch", 2] }), 'output "logits" has shape [batch, 2]; expected [batch] or [batch, 1]');
  assertContractError(tinyJudge({ outputDims: [8] }), 'output "score" has shape [8]; expected [batch] or [batch, 1]');
  assertContractError(tinyJudge({ outputDims: ["batch", 4, 1] }), 'output "score" has shape [batch, 4, 1]; expected [batch] or [batch, 1]');
  assertContractError(tinyJudge({ outputDims: null }), 'output "score" has no declared shape; expected [batch] or [batch, 1]');
  assertContractError(tinyJudge({ outputType: T.INT64 }), 'output "score" is int64; expected float32 scores of shape [batch] or [batch, 1]');
  assertContractError(
    tinyJudge({ extraOutput: true }),
    'model has 2 outputs ("score", "aux"); expected exactly one float32 score output of shape [batch] or [batch, 1]',
  );
});

test("metadata problems are named with what was found and what was expected", () => {
  const { "grpomesh.vocab": vocab, "grpomesh.model_type": _type, ...rest } = GOOD_METADATA;
  assertContractError(
    tinyJudge({ metadata: { ...GOOD_METADATA, "grpomesh.model_type": "masked_lm" } }),
    'metadata grpomesh.model_type is "masked_lm"; expected "sequence_scorer"',
  );
  assertContractError(
    tinyJudge({ metadata: { ...rest, "grpomesh.vocab": vocab } }),
    'metadata grpomesh.model_type is missing; expected "sequence_scorer" (set it in the ONNX metadata_props)',
  );
  const expected = 'expected a JSON array of the token strings in id order (specials by name, e.g. "[MASK]")';
  assertContractError(tinyJudge({ metadata: { ...rest, "grpomesh.model_type": "sequence_scorer" } }), `metadata grpomesh.vocab is missing; ${expected}`);
  assertContractError(
    tinyJudge({ metadata: { ...GOOD_METADATA, "grpomesh.vocab": "[a, b]" } }),
    /^metadata grpomesh\.vocab is not valid JSON \(.+\); expected a JSON array/,
  );
  assertContractError(
    tinyJudge({ metadata: { ...GOOD_METADATA, "grpomesh.vocab": '{"a":0}' } }),
    `metadata grpomesh.vocab is {"a":0}; ${expected}, each non-empty`,
  );
  assertContractError(tinyJudge({ metadata: { ...GOOD_METADATA, "grpomesh.vocab": "[]" } }), `metadata grpomesh.vocab is []; ${expected}, each non-empty`);
  assertContractError(
    tinyJudge({ metadata: { ...GOOD_METADATA, "grpomesh.vocab": '["a", 1]' } }),
    `metadata grpomesh.vocab is ["a", 1]; ${expected}, each non-empty`,
  );
  assertContractError(
    tinyJudge({ metadata: { ...GOOD_METADATA, "grpomesh.vocab": '["a","b","a"]' } }),
    'metadata grpomesh.vocab lists "a" twice (ids 0 and 2); expected each token string once',
  );
});

test("bytes that are not a model are refused", () => {
  assertContractError(new Uint8Array(0), "model has no graph; expected an ONNX ModelProto with a graph (is this a .onnx file?)");
  assertContractError(new TextEncoder().encode("not an onnx file at all"), /^model bytes are not an ONNX ModelProto \(.+\); expected a \.onnx file$/);
});

test("a session that does not match the bytes is refused", async () => {
  const bytes = tinyJudge();
  const other = await ort.InferenceSession.create(tinyJudge({ inputType: T.INT32, outputName: "value" }));
  assert.throws(
    () => inspectJudgeModel(bytes, other),
    new JudgeContractError(
      'session has inputs [tokens] and outputs [value] but the model bytes declare input "tokens" and output "score"; load the session from the same bytes',
    ),
  );
  const int32 = await ort.InferenceSession.create(tinyJudge({ inputType: T.INT32 }));
  assert.throws(() => inspectJudgeModel(bytes, int32), new JudgeContractError('session input "tokens" is int32; expected int64 as the model bytes declare'));
  const longer = await ort.InferenceSession.create(tinyJudge({ inputDims: ["batch", 8] }));
  assert.throws(
    () => inspectJudgeModel(bytes, longer),
    new JudgeContractError('session input "tokens" has shape [batch, 8]; expected [batch, 4] as the model bytes declare'),
  );
});

test("readModelMetadata returns every metadata_props entry", () => {
  assert.deepEqual(readModelMetadata(tinyJudge()), GOOD_METADATA);
});
