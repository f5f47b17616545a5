// An Update on the wire: the one encoding of UpdatePayload as an UpdateRequest, used by the
// orchestrator's gRPC policy port, and the one decoding of its TrainParams, used by the policy.
import { create } from "@bufbuild/protobuf";
import { KlEstimator, TokenReduction, UpdateRequestSchema, type TrainParams as WireTrainParams, type UpdateRequest } from "@grpomesh/proto";
import { encodeTensor } from "@grpomesh/tensor";
import type { TrainParams, UpdatePayload } from "./ports.ts";

const KL = { exact: KlEstimator.EXACT, k1: KlEstimator.K1, k3: KlEstimator.K3 } as const;
const REDUCTION = { sum: TokenReduction.SUM, mean: TokenReduction.MEAN } as const;

export function encodeUpdateRequest(p: UpdatePayload): UpdateRequest {
  const V = p.refLogProbs.length / (p.batch * p.seqLen);
  return create(UpdateRequestSchema, {
    step: p.step,
    inputs: encodeTensor(p.inputs, [p.batch, p.seqLen]),
    completions: encodeTensor(p.completions, [p.batch, p.groupSize, p.seqLen]),
    advantages: encodeTensor(p.advantages, [p.batch, p.groupSize]),
    refLogProbs: encodeTensor(p.refLogProbs, [p.batch, p.seqLen, V]),
    oldLogProbs: encodeTensor(p.oldLogProbs, [p.batch, p.groupSize]),
    params: { ...p.params, klEstimator: KL[p.params.klEstimator], tokenReduction: REDUCTION[p.params.tokenReduction] },
    ...(p.behaviourVersion !== undefined ? { behaviourVersion: p.behaviourVersion } : {}),
  });
}

const KL_NAMES = new Map<number, TrainParams["klEstimator"]>(Object.entries(KL).map(([name, value]) => [value, name as TrainParams["klEstimator"]]));
const REDUCTION_NAMES = new Map<number, TrainParams["tokenReduction"]>(
  Object.entries(REDUCTION).map(([name, value]) => [value, name as TrainParams["tokenReduction"]]),
);

/** A request that cannot be decoded; servers answer it INVALID_ARGUMENT (gRPC code 3, libs/rpc's statusOf). */
export class WireDecodeError extends Error {
  override name = "WireDecodeError";
  readonly grpcCode = 3;
}

/**
 * The inverse of encodeUpdateRequest's params: every field as it came, the two enums as names. The
 * engine checks the values.
 */
export function decodeTrainParams(p: WireTrainParams | undefined): TrainParams {
  if (!p) throw new WireDecodeError("params is missing; expected the run's TrainParams");
  const { $typeName: _typeName, $unknown: _unknown, klEstimator: kl, tokenReduction: reduction, ...numbers } = p;
  const klEstimator = KL_NAMES.get(kl);
  const tokenReduction = REDUCTION_NAMES.get(reduction);
  if (!klEstimator)
    throw new WireDecodeError(
      `params.kl_estimator is ${KlEstimator[kl] ? `KL_ESTIMATOR_${KlEstimator[kl]}` : kl}; expected KL_ESTIMATOR_EXACT, KL_ESTIMATOR_K1 or KL_ESTIMATOR_K3`,
    );
  if (!tokenReduction)
    throw new WireDecodeError(
      `params.token_reduction is ${TokenReduction[reduction] ? `TOKEN_REDUCTION_${TokenReduction[reduction]}` : reduction}; expected TOKEN_REDUCTION_SUM or TOKEN_REDUCTION_MEAN`,
    );
  return { ...numbers, klEstimator, tokenReduction };
}
