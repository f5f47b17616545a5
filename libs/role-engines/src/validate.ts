// Every check a request passes before an engine touches its state. Size caps come first
// (RESOURCE_EXHAUSTED) so a huge request is refused before its arrays are scanned; everything else
// is INVALID_ARGUMENT with the index and value at fault.
import { allowedValues } from "@grpomesh/config";
import { GRPO_SETTINGS, TRAIN_PARAM_SETTINGS } from "@grpomesh/grpo/settings";
import type { BatchShape, SampleParams, TrainParams, UpdatePayload } from "@grpomesh/loop";
import { failedPrecondition, invalidArgument, resourceExhausted } from "./errors.ts";

/** Caps on one request, so a buggy or hostile caller cannot exhaust memory (the wasm heap is 4 GiB). */
export interface EngineLimits {
  /** Most inputs (B) in one request. */
  maxBatch: number;
  /** Most completions (B·k) in one request. */
  maxCompletions: number;
  /** Most PPO epochs (optimizer steps) in one Update. */
  maxPpoEpochs: number;
}

export const DEFAULT_LIMITS: Readonly<EngineLimits> = { maxBatch: 256, maxCompletions: 8192, maxPpoEpochs: 16 };

export function resolveLimits(partial: Partial<EngineLimits> = {}): EngineLimits {
  const limits = { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`engine limit ${key} is ${value}; expected a positive integer`);
  }
  return limits;
}

/** What validation needs to know about the model. */
export interface ModelFacts {
  vocabSize: number;
  seqLen: number;
  maskTokenId: number;
  padTokenId: number;
}

const isPositiveInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 1;

/**
 * B and T: positive integers, T ≤ the model's seq_len (exactly it with `exactSeqLen`: numbers for
 * shorter windows than the model was trained on are not the ones training uses), B ≤ maxBatch.
 */
export function checkShape(shape: BatchShape, model: ModelFacts, limits: EngineLimits, opts: { exactSeqLen?: boolean } = {}): void {
  if (!shape || !isPositiveInt(shape.batch) || !isPositiveInt(shape.seqLen)) {
    throw invalidArgument(`batch shape is ${JSON.stringify(shape)}; expected {batch, seqLen} with positive integers (inputs of shape [B, T])`);
  }
  if (shape.batch > limits.maxBatch) {
    throw resourceExhausted(
      `request holds ${shape.batch} inputs; this engine accepts at most ${limits.maxBatch} per request (raise --max_batch or split the batch)`,
    );
  }
  if (shape.seqLen > model.seqLen) {
    throw invalidArgument(
      `inputs have ${shape.seqLen} positions; this model's seq_len is ${model.seqLen}. Send sequences of ${opts.exactSeqLen ? "exactly" : "at most"} ${model.seqLen} tokens`,
    );
  }
  if (opts.exactSeqLen && shape.seqLen !== model.seqLen) {
    throw invalidArgument(
      `inputs have ${shape.seqLen} positions; this model's seq_len is ${model.seqLen}. Send sequences of exactly ${model.seqLen} tokens (inputs of shape [B, ${model.seqLen}])`,
    );
  }
}

/** B·k ≤ maxCompletions. */
export function checkCompletionCount(batch: number, groupSize: number, limits: EngineLimits): void {
  if (batch * groupSize > limits.maxCompletions) {
    throw resourceExhausted(
      `request asks for ${batch} × ${groupSize} = ${batch * groupSize} completions; this engine accepts at most ${limits.maxCompletions} per request (lower group_size or batch_size)`,
    );
  }
}

/** Int32Array of `length` ids, each in [0, V). */
export function checkIds(name: string, ids: unknown, length: number, vocabSize: number, shapeText: string): asserts ids is Int32Array {
  if (!(ids instanceof Int32Array)) {
    throw invalidArgument(`${name} must be an Int32Array of token ids ${shapeText}; got ${describeValue(ids)}`);
  }
  if (ids.length !== length) throw invalidArgument(`${name} holds ${ids.length} ids; expected ${shapeText} = ${length}`);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= vocabSize) throw invalidArgument(`${name}[${i}] is ${id}; token ids must be in [0, ${vocabSize}) (this model's vocabulary)`);
  }
}

/**
 * Completions [B, k, T] that are fill-ins of their inputs [B, T]: equal to the input at every
 * unmasked position, an ordinary token id (never [MASK] or [PAD]) at every masked one. The
 * first violation is INVALID_ARGUMENT naming input, member, position and both values.
 */
export function checkCompletionsAgree(
  inputs: Int32Array,
  completions: Int32Array,
  shape: { batch: number; groupSize: number; seqLen: number },
  model: ModelFacts,
): void {
  const { batch: B, groupSize: k, seqLen: T } = shape;
  const V = model.vocabSize;
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < k; j++) {
      for (let t = 0; t < T; t++) {
        const a = completions[(i * k + j) * T + t]!;
        const x = inputs[i * T + t]!;
        const where = `completions[input ${i}, member ${j}, position ${t}]`;
        if (x !== model.maskTokenId) {
          if (a !== x)
            throw invalidArgument(
              `${where} is ${a} but the input holds ${x} there; completions must equal their inputs at unmasked positions (were inputs and completions taken from the same batch?)`,
            );
        } else if (a < 0 || a >= V) {
          throw invalidArgument(`${where} is ${a}; a filled-in token must be an id in [0, ${V})`);
        } else if (a === model.maskTokenId || a === model.padTokenId) {
          throw invalidArgument(
            `${where} is the ${a === model.maskTokenId ? "[MASK]" : "[PAD]"} token (${a}); a fill-in never produces special tokens — were these completions sampled by this policy?`,
          );
        }
      }
    }
  }
}

/** A Float32Array of `length` finite values. */
export function checkFiniteFloats(
  name: string,
  values: unknown,
  length: number,
  shapeText: string,
  perItem?: (i: number) => string,
): asserts values is Float32Array {
  if (!(values instanceof Float32Array)) throw invalidArgument(`${name} must be a Float32Array ${shapeText}; got ${describeValue(values)}`);
  if (values.length !== length) throw invalidArgument(`${name} holds ${values.length} values; expected ${shapeText} = ${length}`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw invalidArgument(
        `${name}[${i}]${perItem ? ` (${perItem(i)})` : ""} is ${values[i]}; expected a finite number (a missing reward or NaN must be refused upstream, not trained on)`,
      );
    }
  }
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  const ctor = (v as object).constructor?.name ?? typeof v;
  const length = (v as { length?: unknown }).length;
  return typeof length === "number" ? `${ctor} of length ${length}` : ctor;
}

export function checkSampleParams(params: SampleParams, batch: number, limits: EngineLimits): void {
  if (!params || typeof params !== "object") throw invalidArgument(`sampling params are missing; expected {temperature, topP, groupSize, seed}`);
  const problems: string[] = [];
  if (!(typeof params.temperature === "number" && Number.isFinite(params.temperature) && params.temperature > 0))
    problems.push(`temperature is ${params.temperature}; expected a finite number > 0 (e.g. 0.8)`);
  if (!(typeof params.topP === "number" && params.topP > 0 && params.topP <= 1))
    problems.push(`top_p is ${params.topP}; expected a number in (0, 1] (1 disables truncation)`);
  if (!isPositiveInt(params.groupSize)) problems.push(`group_size is ${params.groupSize}; expected a positive integer`);
  if (typeof params.seed !== "string" || !/^\d{1,20}$/.test(params.seed))
    problems.push(`seed is ${JSON.stringify(params.seed)}; expected a decimal string of an unsigned 64-bit integer`);
  if (problems.length) throw invalidArgument(`invalid sampling params: ${problems.join("; ")}`);
  checkCompletionCount(batch, params.groupSize, limits);
}

/** Every TrainParams field checked by the GRPO setting it carries (TRAIN_PARAM_SETTINGS), all problems in one message. */
export function checkTrainParams(params: TrainParams, limits: EngineLimits): void {
  if (!params || typeof params !== "object")
    throw invalidArgument(`train params are missing; expected the TrainParams of the run (learning rate, schedule, loss settings)`);
  const problems = Object.entries(TRAIN_PARAM_SETTINGS).flatMap(([field, key]) => {
    const value = (params as Record<string, unknown>)[field];
    const row = GRPO_SETTINGS[key];
    return row.type.safeParse(value).success ? [] : [`${key} is ${JSON.stringify(value)} (TrainParams.${field}); expected ${allowedValues(row)}`];
  });
  if (problems.length) throw invalidArgument(`invalid train params: ${problems.join("; ")}`);
  if (params.ppoEpochs > limits.maxPpoEpochs)
    throw resourceExhausted(`ppo_epochs is ${params.ppoEpochs}; this engine runs at most ${limits.maxPpoEpochs} epochs per Update`);
}

/** What the update needs after validation: the mask and per-input masked counts. */
export interface CheckedUpdate {
  /** [B, T] 1 at masked positions. */
  mask: Uint8Array;
  /** [B] |M_i|. */
  maskedCounts: Int32Array;
  /** Whether reference log-probs were sent (they may be left out when kl_beta = 0). */
  hasRef: boolean;
  /** Whether sampling-time log-probs were sent (they may be left out when ppo_epochs = 1). */
  hasOld: boolean;
}

// Log-softmax outputs are ≤ 0; a little slack absorbs float rounding of the most probable token.
const MAX_LOG_PROB = 1e-3;

/**
 * The whole Update payload: shapes, caps, ids, completions that agree with their inputs, finite
 * advantages and log-probs, and the train params. Throws before anything is computed.
 */
export function checkUpdatePayload(p: UpdatePayload, model: ModelFacts, limits: EngineLimits): CheckedUpdate {
  if (!p || typeof p !== "object") throw invalidArgument("update payload is missing");
  checkShape({ batch: p.batch, seqLen: p.seqLen }, model, limits);
  if (!isPositiveInt(p.groupSize)) throw invalidArgument(`group_size is ${p.groupSize}; expected a positive integer`);
  checkCompletionCount(p.batch, p.groupSize, limits);
  checkTrainParams(p.params, limits);
  const { batch: B, seqLen: T, groupSize: k } = p;
  const V = model.vocabSize;

  checkIds("inputs", p.inputs, B * T, V, `[B, T] = [${B}, ${T}]`);
  const mask = new Uint8Array(B * T);
  const maskedCounts = new Int32Array(B);
  for (let i = 0; i < B * T; i++) {
    if (p.inputs[i] === model.maskTokenId) {
      mask[i] = 1;
      maskedCounts[Math.floor(i / T)]! += 1;
    }
  }

  const c = p.completions;
  if (!(c instanceof Int32Array)) throw invalidArgument(`completions must be an Int32Array [B, k, T]; got ${describeValue(c)}`);
  if (c.length !== B * k * T) throw invalidArgument(`completions hold ${c.length} ids; expected [B, k, T] = [${B}, ${k}, ${T}] = ${B * k * T}`);
  checkCompletionsAgree(p.inputs, c, { batch: B, groupSize: k, seqLen: T }, model);

  checkFiniteFloats("advantages", p.advantages, B * k, `[B, k] = [${B}, ${k}]`, (s) => `input ${Math.floor(s / k)}, member ${s % k}`);

  const ref = p.refLogProbs;
  const hasRef = ref instanceof Float32Array && ref.length > 0;
  if (!hasRef) {
    if (p.params.klBeta > 0)
      throw invalidArgument(
        `ref_log_probs are missing but kl_beta is ${p.params.klBeta}; send the reference log-probs [B, T, V] = [${B}, ${T}, ${V}] or set kl_beta to 0`,
      );
    if (ref !== undefined && !(ref instanceof Float32Array)) throw invalidArgument(`ref_log_probs must be a Float32Array [B, T, V]; got ${describeValue(ref)}`);
  } else {
    if (ref.length !== B * T * V) {
      throw invalidArgument(
        `ref_log_probs hold ${ref.length} values; expected [B, T, V] = [${B}, ${T}, ${V}] = ${B * T * V} (is the reference's vocabulary the policy's?)`,
      );
    }
    for (let pos = 0; pos < B * T; pos++) {
      if (!mask[pos]) continue;
      for (let v = 0; v < V; v++) {
        const x = ref[pos * V + v]!;
        if (!(Number.isFinite(x) && x <= MAX_LOG_PROB)) {
          throw invalidArgument(
            `ref_log_probs[input ${Math.floor(pos / T)}, position ${pos % T}, token ${v}] is ${x}; expected a finite log-probability ≤ 0 at masked positions`,
          );
        }
      }
    }
  }

  const old = p.oldLogProbs;
  const hasOld = old instanceof Float32Array && old.length > 0;
  if (!hasOld) {
    if (p.params.ppoEpochs > 1)
      throw invalidArgument(
        `old_log_probs are missing but ppo_epochs is ${p.params.ppoEpochs}; send the sampling-time log-probs [B, k] (Sample returns them) or set ppo_epochs to 1`,
      );
    if (old !== undefined && !(old instanceof Float32Array)) throw invalidArgument(`old_log_probs must be a Float32Array [B, k]; got ${describeValue(old)}`);
  } else {
    checkFiniteFloats("old_log_probs", old, B * k, `[B, k] = [${B}, ${k}]`, (s) => `input ${Math.floor(s / k)}, member ${s % k}`);
    for (let s = 0; s < old.length; s++) {
      if (old[s]! > MAX_LOG_PROB * Math.max(1, maskedCounts[Math.floor(s / k)]!)) {
        throw invalidArgument(`old_log_probs[${s}] is ${old[s]}; a sequence log-probability must be ≤ 0`);
      }
    }
  }
  return { mask, maskedCounts, hasRef, hasOld };
}

/**
 * A pipelined Update's behaviour version against the policy's own: how many versions behind its
 * completions were sampled (0 for a synchronous step, also when the field is absent). A version
 * ahead of the policy is FAILED_PRECONDITION (the policy was rolled back under the orchestrator);
 * an older one needs the behaviour log-probs the importance weights are computed from.
 */
export function checkBehaviourVersion(p: UpdatePayload, policyVersion: number, checked: CheckedUpdate): number {
  const v = p.behaviourVersion;
  if (v === undefined) return 0;
  if (!Number.isSafeInteger(v) || v < 0)
    throw invalidArgument(
      `behaviour_version is ${typeof v === "number" ? v : describeValue(v)}; expected the policy version that sampled the completions, an integer ≥ 0`,
    );
  if (v > policyVersion) {
    throw failedPrecondition(
      `behaviour_version ${v} is newer than the policy's version ${policyVersion}: the completions came from weights this policy does not have. Load the checkpoint the orchestrator resumed from.`,
    );
  }
  if (v < policyVersion && !checked.hasOld) {
    throw invalidArgument(
      `the completions were sampled by policy version ${v}, ${policyVersion - v} behind the policy's ${policyVersion}, but old_log_probs are missing; send the sampling-time log-probs [B, k] (Sample returns them) so the update can weight each completion`,
    );
  }
  return policyVersion - v;
}
