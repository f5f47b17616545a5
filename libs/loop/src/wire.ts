// An Update on the wire: the one encoding of UpdatePayload as an UpdateRequest, used by the
// orchestrator's gRPC policy port (and by the policy service's tests to build the same request).
import { create } from "@bufbuild/protobuf";
import { KlEstimator, TokenReduction, UpdateRequestSchema, type UpdateRequest } from "@grpomesh/proto";
import { encodeTensor } from "@grpomesh/tensor";
import type { UpdatePayload } from "./ports.ts";

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
  });
}
