// The seed's checklist, run before the first step: each check fails with a message that says what
// was found, what was expected and what to do.
import { vocabularyDifference } from "@grpomesh/data";
import type { Task } from "@grpomesh/tasks";
import type { WeightedJudges } from "./weighted-judges.ts";
import type { GrpcPolicy, GrpcReference } from "./grpc-ports.ts";

export interface StartupFacts {
  seqLen: number;
  vocabSize: number;
  policyDigest: string;
  referenceDigest: string;
  /** The version each replica serves, by address (by "name/address" with several judges). */
  judgeVersions: Record<string, string>;
  policyLastStep: number;
}

export class StartupCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupCheckError";
  }
}

export async function runStartupChecks(
  { policy, reference, judges, task, resuming }: { policy: GrpcPolicy; reference: GrpcReference; judges: WeightedJudges; task: Task; resuming: boolean },
  log: (line: string) => void,
): Promise<StartupFacts> {
  const dataVocab = task.vocab.tokens;
  const dataVocabView = { vocab: dataVocab, maskTokenId: task.vocab.maskTokenId };
  const fail = (msg: string): never => {
    throw new StartupCheckError(msg);
  };

  // 1. The task's data (its vocabulary has a [MASK] token by construction: libs/data's Vocabulary).
  log(`check: task ${task.name}: ${task.describe}; ${dataVocab.length} tokens, mask_token_id ${task.vocab.maskTokenId}`);

  // 2. The generator checkpoint loaded in the policy, with the data's vocabulary.
  const p = await policy.client.info({});
  if (!p.config || !p.vocab) fail(`policy at ${policy.client.target} reports no model config; is its checkpoint loaded?`);
  if (p.config!.modelType !== "masked_lm") fail(`policy model_type is "${p.config!.modelType}"; expected "masked_lm"`);
  const policyDiff = vocabularyDifference({ vocab: p.vocab!.tokens, maskTokenId: p.vocab!.maskTokenId }, dataVocabView, { model: "policy", other: "dataset" });
  if (policyDiff) fail(`${policyDiff}; use a generator trained for task ${task.name} (${task.files.generator})`);
  log(
    `check: policy loaded ${p.config!.nLayer} layers × d_model ${p.config!.dModel}, seq_len ${p.config!.seqLen}, ${p.parameterCount} parameters, version ${p.policyVersion}, engine ${p.backend}`,
  );

  // 3. The reference is the same architecture and vocabulary, frozen, and (on a fresh run) the initial policy.
  const r = await reference.client.info({});
  if (!r.config || !r.vocab) fail(`reference at ${reference.client.target} reports no model config`);
  const referenceDiff = vocabularyDifference({ vocab: r.vocab!.tokens, maskTokenId: r.vocab!.maskTokenId }, dataVocabView, {
    model: "reference",
    other: "dataset",
  });
  if (referenceDiff) fail(`${referenceDiff}; start the reference from the policy's initial checkpoint`);
  if (r.config!.seqLen !== p.config!.seqLen || r.config!.vocabSize !== p.config!.vocabSize) {
    fail(`reference has seq_len ${r.config!.seqLen}, vocab ${r.config!.vocabSize}; policy has seq_len ${p.config!.seqLen}, vocab ${p.config!.vocabSize}`);
  }
  if (!resuming && p.policyVersion === 0 && r.weightsDigest !== p.weightsDigest) {
    fail(
      `the reference's weights (digest ${r.weightsDigest.slice(0, 12)}) are not the initial policy's (${p.weightsDigest.slice(0, 12)}); start both from the same checkpoint`,
    );
  }
  log(`check: reference is frozen (weights ${r.weightsDigest.slice(0, 12)}, checked again at the end)`);

  // 4. Every judge is a sequence scorer (the judge service refuses anything else at load) with the
  // data's vocabulary, and the replicas of each judge fleet serve one version.
  const judgeVersions: Record<string, string> = {};
  const several = judges.fleets.length > 1;
  for (const { name, weight, fleet } of judges.fleets) {
    const fleetVersions: Record<string, string> = {};
    const judge = (target: string) => (several ? `judge ${name} replica ${target}` : `judge ${target}`);
    for (const replica of fleet.replicas) {
      const j = await replica.client.info({});
      const judgeDiff = vocabularyDifference({ vocab: j.vocab }, dataVocabView, {
        model: `${judge(replica.target)} (${j.modelName} ${j.modelVersion})`,
        other: "dataset",
      });
      if (judgeDiff) fail(`${judgeDiff}; use a judge made for task ${task.name}`);
      if (j.seqLen !== 0 && j.seqLen !== p.config!.seqLen)
        fail(`${judge(replica.target)} expects seq_len ${j.seqLen}; the policy generates ${p.config!.seqLen}`);
      fleetVersions[replica.target] = j.modelVersion;
      judgeVersions[several ? `${name}/${replica.target}` : replica.target] = j.modelVersion;
    }
    const versions = new Set(Object.values(fleetVersions));
    if (versions.size > 1)
      fail(
        `${several ? `judge ${name}'s replicas` : "judge replicas"} serve different versions (${JSON.stringify(fleetVersions)}); swap them to one version first`,
      );
    log(
      `check: ${several ? `judge ${name} (weight ${weight}): ` : ""}${fleet.replicas.length} judge replica(s), sequence_scorer ${[...versions][0]} with the dataset's vocabulary`,
    );
  }

  return {
    seqLen: p.config!.seqLen,
    vocabSize: p.config!.vocabSize,
    policyDigest: p.weightsDigest,
    referenceDigest: r.weightsDigest,
    judgeVersions,
    policyLastStep: p.lastStep,
  };
}
