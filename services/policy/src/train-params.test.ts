// TrainParams on the wire: libs/loop's encodeUpdateRequest and decodeTrainParams (what the policy
// decodes an Update with) are inverse, and the port type carries every field of the generated message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { KlEstimator, TokenReduction, TrainParamsSchema, UpdateRequestSchema } from "@grpomesh/proto";
import { Status, statusOf } from "@grpomesh/rpc";
import { decodeTrainParams, encodeUpdateRequest } from "@grpomesh/loop";
import { trainParams } from "./test/fixtures.ts";

const payload = (params = trainParams()) => ({
  step: 1,
  batch: 1,
  seqLen: 2,
  groupSize: 1,
  inputs: new Int32Array(2),
  completions: new Int32Array(2),
  advantages: new Float32Array(1),
  refLogProbs: new Float32Array(0),
  oldLogProbs: new Float32Array(1),
  params,
});

test("encodeUpdateRequest then decodeTrainParams gives back the port's TrainParams, through the wire", () => {
  for (const overrides of [{}, { klEstimator: "k3", tokenReduction: "mean", ppoEpochs: 3 }, { klEstimator: "k1", microBatchSize: 0, klBeta: 0 }] as const) {
    const params = trainParams(overrides);
    const wire = fromBinary(UpdateRequestSchema, toBinary(UpdateRequestSchema, encodeUpdateRequest(payload(params))));
    assert.deepEqual(decodeTrainParams(wire.params), params);
  }
});

test("the decoded params hold exactly the generated message's fields", () => {
  const decoded = decodeTrainParams(create(TrainParamsSchema, { klEstimator: KlEstimator.EXACT, tokenReduction: TokenReduction.SUM }));
  assert.deepEqual(Object.keys(decoded).sort(), TrainParamsSchema.fields.map((f) => f.localName).sort());
});

test("missing params and unspecified enums are INVALID_ARGUMENT", () => {
  const refused = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => statusOf(e).code === Status.INVALID_ARGUMENT && re.test(statusOf(e).message));
  refused(() => decodeTrainParams(undefined), /params is missing/);
  refused(() => decodeTrainParams(create(TrainParamsSchema, { tokenReduction: TokenReduction.SUM })), /kl_estimator is KL_ESTIMATOR_UNSPECIFIED/);
  refused(
    () => decodeTrainParams(create(TrainParamsSchema, { klEstimator: KlEstimator.K1, tokenReduction: 7 as TokenReduction })),
    /token_reduction is 7; expected TOKEN_REDUCTION_SUM or TOKEN_REDUCTION_MEAN/,
  );
});
