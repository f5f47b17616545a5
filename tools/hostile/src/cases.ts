// The catalogue of hostile requests: for every RPC of every service, factories that build a
// request from a HostileValues source. Each built request says whether the service must refuse it
// (it is invalid) or may answer it (a read that happens to be well-formed), and which long strings
// it carries (they may come back only truncated).
import { create, toBinary, type DescMessage, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import {
  DataType,
  JudgeService,
  KlEstimator,
  LoadCheckpointRequestSchema,
  LoadModelRequestSchema,
  LogProbsRequestSchema,
  OrchestratorService,
  PolicyService,
  ReferenceService,
  SampleRequestSchema,
  SaveCheckpointRequestSchema,
  ScoreRequestSchema,
  SwapJudgeRequestSchema,
  TokenReduction,
  UpdateRequestSchema,
  type TensorSchema,
  type TrainParamsSchema,
} from "@grpomesh/proto";
import { HOSTILE_LABELS, escapingPaths, hostilePaths, type HostileValues, type PathContext } from "./values.ts";

export const SERVICES = {
  policy: PolicyService,
  reference: ReferenceService,
  judge: JudgeService,
  orchestrator: OrchestratorService,
} as const satisfies Record<string, DescService>;

export type ServiceName = keyof typeof SERVICES;

/** The state-changing RPCs: they need the admin token. */
export const ADMIN_METHODS: Record<ServiceName, readonly string[]> = {
  policy: ["Update", "SaveCheckpoint", "LoadCheckpoint"],
  reference: [],
  judge: ["LoadModel"],
  orchestrator: ["Pause", "Resume", "SwapJudge", "Checkpoint"],
};

/**
 * A SwapJudge call's deadline: the orchestrator bounds each swap by --judge_swap_deadline_ms (5 s
 * here) and runs them one at a time, so with four calls in flight one may wait for three others.
 */
export const SWAP_CALL_DEADLINE_MS = 25_000;

export const isAdminMethod = (service: ServiceName, method: string): boolean => ADMIN_METHODS[service].includes(method);

/**
 * How a call presents the admin credential: none, a wrong token, a malformed header, or the
 * right token (only with payloads that must be refused, so no legitimate state change happens).
 */
export type Auth = "none" | "wrong" | "malformed" | "admin";

/** What the running stack looks like, so requests can be near-valid (and thus reach deep code). */
export interface StackFacts {
  vocabSize: number;
  seqLen: number;
  maskTokenId: number;
  /** The judge model's input dtype (INT32 or INT64). */
  judgeDtype: DataType;
  /** The policy's last applied step when the hostile run started. */
  lastStep: number;
  /** Largest request each service accepts (bytes). */
  maxMessageBytes: Record<ServiceName, number>;
  /** Paths inside the policy's checkpoint root: a symlink out of it, a file and a folder it did not write. */
  policyPaths: PathContext;
  /** Paths inside the judge's model repository. */
  judgePaths: PathContext & {
    /** The model the judge serves (loading it again with another label would change state). */
    servingModel: string;
    /** An ONNX judge whose vocabulary differs from the dataset's. */
    otherVocabModel: string;
    /** A file with the .onnx name that is not an ONNX model. */
    notOnnx: string;
  };
}

export interface HostileRequest {
  body: Uint8Array;
  /** The request is invalid: any OK answer is a violation. */
  mustRefuse: boolean;
  /** Long strings in the request: a status message must not carry one back whole. */
  echoes: string[];
  /** The bytes are not a protobuf message (grpc-js answers before any handler runs). */
  undecodable: boolean;
  /** Larger than the service accepts. */
  oversized: boolean;
  /** What exactly is hostile about it, for reports (e.g. "advantages: non-finite value"). */
  detail?: string;
}

export interface CaseFactory {
  service: ServiceName;
  method: string;
  label: string;
  /** Auth variants this payload is sent with (admin RPCs only; read RPCs are always sent with the token). */
  auths: readonly Auth[];
  /** Relative weight in the randomized run (the 64 MiB orchestrator message is rare). */
  weight: number;
  deadlineMs: number;
  make(h: HostileValues, facts: StackFacts): HostileRequest;
}

const bin = <D extends DescMessage>(schema: D, init: MessageInitShape<D>): Uint8Array => toBinary(schema, create(schema, init));

const request = (body: Uint8Array, mustRefuse: boolean, echoes: string[] = [], detail?: string): HostileRequest => ({
  body,
  mustRefuse,
  echoes,
  undecodable: false,
  oversized: false,
  detail,
});

/** A one-line, bounded description of a hostile string. */
const show = (s: string): string => (s.length > 40 ? `${JSON.stringify(s.slice(0, 40))}… (${s.length} characters)` : JSON.stringify(s));

type TensorInit = MessageInitShape<typeof TensorSchema>;

function tensor(dtype: DataType, shape: Array<number | bigint>, data: ArrayBufferView): TensorInit {
  return { dtype, shape: shape.map((d) => BigInt(d)), data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

// --- near-valid requests, which the mutations below break in one place ---

interface Batch {
  B: number;
  k: number;
  T: number;
  inputs: Int32Array;
  completions: Int32Array;
}

/** A small valid batch: ids from the vocabulary (never the mask), about a third of positions masked. */
function validBatch(h: HostileValues, f: StackFacts, B = 1 + h.int(2), k = 1 + h.int(2)): Batch {
  const T = f.seqLen;
  const plain = () => {
    let id = h.int(f.vocabSize);
    while (id === f.maskTokenId) id = h.int(f.vocabSize);
    return id;
  };
  const inputs = new Int32Array(B * T);
  for (let i = 0; i < inputs.length; i++) inputs[i] = i % T === 0 || h.chance(0.33) ? f.maskTokenId : plain();
  const completions = new Int32Array(B * k * T);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < k; j++)
      for (let t = 0; t < T; t++) {
        const x = inputs[b * T + t]!;
        completions[(b * k + j) * T + t] = x === f.maskTokenId ? plain() : x;
      }
  return { B, k, T, inputs, completions };
}

function validTrainParams(): MessageInitShape<typeof TrainParamsSchema> {
  return {
    learningRate: 1e-3,
    warmupSteps: 1,
    maxSteps: 100,
    minLrRatio: 0.1,
    weightDecay: 0,
    beta1: 0.9,
    beta2: 0.99,
    eps: 1e-8,
    gradClip: 1,
    microBatchSize: 0,
    klBeta: 0.05,
    klEstimator: KlEstimator.EXACT,
    tokenReduction: TokenReduction.MEAN,
    ppoEpochs: 1,
    clipEps: 0.2,
    temperature: 1,
    importanceWeightCap: 2,
  };
}

function validUpdate(h: HostileValues, f: StackFacts) {
  const b = validBatch(h, f);
  const V = f.vocabSize;
  const advantages = new Float32Array(b.B * b.k).map(() => h.rng.uniform(-1, 1));
  const ref = new Float32Array(b.B * b.T * V).fill(-Math.log(V));
  return {
    b,
    init: {
      step: f.lastStep + 1,
      inputs: tensor(DataType.INT32, [b.B, b.T], b.inputs),
      completions: tensor(DataType.INT32, [b.B, b.k, b.T], b.completions),
      advantages: tensor(DataType.FLOAT32, [b.B, b.k], advantages),
      refLogProbs: tensor(DataType.FLOAT32, [b.B, b.T, V], ref),
      params: validTrainParams(),
    } satisfies MessageInitShape<typeof UpdateRequestSchema>,
  };
}

/**
 * A tensor broken in one way: a negative, huge or overflowing dimension, a wrong dtype, an
 * unknown dtype, data that does not match the shape, ids outside the vocabulary, NaN floats.
 */
function brokenTensor(h: HostileValues, f: StackFacts, kind: "ids" | "floats", shape: number[]): { t: TensorInit; label: string } {
  const n = shape.reduce((a, b) => a * b, 1);
  const good = kind === "ids" ? new Int32Array(n).fill(f.maskTokenId === 0 ? 1 : 0) : new Float32Array(n).fill(-1);
  const dtype = kind === "ids" ? DataType.INT32 : DataType.FLOAT32;
  switch (h.int(11)) {
    case 0: {
      const at = h.int(shape.length);
      const s: Array<number | bigint> = [...shape];
      s[at] = h.dim();
      return { t: tensor(dtype, s, good), label: `dimension ${at} = ${s[at]}` };
    }
    case 1:
      return { t: tensor(dtype, [-1, ...shape.slice(1)], good), label: "negative first dimension" };
    case 2:
      return { t: tensor(dtype, [2 ** 31, 2 ** 31, ...shape.slice(2)], good), label: "2^62 elements" };
    case 3:
      return { t: tensor(kind === "ids" ? DataType.FLOAT32 : DataType.INT32, shape, good), label: "wrong dtype" };
    case 4:
      const other = h.pick(
        kind === "ids"
          ? [DataType.UNSPECIFIED, 99 as DataType, DataType.BOOL, DataType.FLOAT64, DataType.UINT8]
          : [DataType.UNSPECIFIED, 99 as DataType, DataType.BOOL, DataType.FLOAT64, DataType.INT64],
      );
      return { t: tensor(other, shape, good), label: `dtype ${DataType[other] ?? other}` };
    case 5:
      return { t: tensor(dtype, shape, new Uint8Array(Math.max(0, good.byteLength - 1 - h.int(8)))), label: "data shorter than the shape" };
    case 6:
      return { t: tensor(dtype, shape, new Uint8Array(good.byteLength + 4 + 4 * h.int(8))), label: "data longer than the shape" };
    case 7:
      return { t: tensor(dtype, [], good), label: "no shape" };
    case 8:
      return { t: tensor(dtype, [...shape, 1, 1], good), label: "extra dimensions" };
    case 9: {
      if (kind === "ids") {
        const bad = good.slice() as Int32Array;
        bad[h.int(n)] = h.pick([-1, f.vocabSize, 0x7fffffff, -0x80000000]);
        return { t: tensor(dtype, shape, bad), label: "id outside the vocabulary" };
      }
      // In the first row: position 0 of every valid batch here is masked, where log-probs are read.
      const bad = good.slice() as Float32Array;
      bad[h.int(shape[shape.length - 1]!)] = h.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      return { t: tensor(dtype, shape, bad), label: "non-finite value" };
    }
    default:
      return {
        t: tensor(
          dtype,
          shape.map((d) => (d > 1 ? d - 1 : d + 1)),
          good.subarray(0, 1),
        ),
        label: "shape off by one",
      };
  }
}

// --- generic cases for every method ---

function genericCases(service: ServiceName, method: string, admin: boolean): CaseFactory[] {
  const auths: readonly Auth[] = admin ? ["none", "wrong", "malformed", "admin"] : ["admin"];
  const base = { service, method, deadlineMs: 10_000 };
  // The orchestrator takes 64 MiB: one read and one admin RPC carry the oversized message.
  const oversized = service !== "orchestrator" || method === "Status" || method === "SwapJudge";
  const cases: CaseFactory[] = [
    {
      ...base,
      label: "garbage bytes",
      auths,
      weight: 3,
      make: (h) => ({ body: h.garbage(), mustRefuse: true, echoes: [], undecodable: true, oversized: false }),
    },
    {
      ...base,
      label: "truncated varint",
      auths,
      weight: 1,
      make: () => ({ body: Uint8Array.of(0x08, 0xff, 0xff), mustRefuse: true, echoes: [], undecodable: true, oversized: false }),
    },
    {
      ...base,
      label: "field 1 with a wrong wire type and an overlong length",
      auths,
      weight: 1,
      make: () => ({ body: Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00), mustRefuse: true, echoes: [], undecodable: true, oversized: false }),
    },
  ];
  if (oversized)
    cases.push({
      ...base,
      label: "oversized message",
      auths: admin ? ["none", "admin"] : ["admin"],
      weight: service === "orchestrator" ? 0.05 : 0.3,
      deadlineMs: 30_000,
      make: (h, f) => {
        const body = new Uint8Array(f.maxMessageBytes[service] + 1 + h.int(1024));
        body[0] = 0x07;
        return { body, mustRefuse: true, echoes: [], undecodable: true, oversized: true };
      },
    });
  return cases;
}

/** Every case for every method; the test checks that each RPC of each service has cases. */
export function catalogue(): CaseFactory[] {
  const cases: CaseFactory[] = [];
  for (const [service, desc] of Object.entries(SERVICES) as Array<[ServiceName, DescService]>) {
    for (const m of desc.methods) cases.push(...genericCases(service, m.name, isAdminMethod(service, m.name)));
  }
  const read = (service: ServiceName, method: string, label: string, make: CaseFactory["make"], weight = 1): CaseFactory => ({
    service,
    method,
    label,
    auths: ["admin"],
    weight,
    deadlineMs: 10_000,
    make,
  });
  const adminOnly = (service: ServiceName, method: string, label: string, make: CaseFactory["make"], weight = 1, deadlineMs = 10_000): CaseFactory => ({
    service,
    method,
    label,
    auths: ["admin"],
    weight,
    deadlineMs,
    make,
  });
  const noToken = (service: ServiceName, method: string, label: string, make: CaseFactory["make"], weight = 0.5): CaseFactory => ({
    service,
    method,
    label,
    auths: ["none", "wrong", "malformed"],
    weight,
    deadlineMs: 10_000,
    make,
  });

  // Empty messages: reads answer them or refuse; admin RPCs whose empty request is a legitimate
  // command (Pause, Resume, Checkpoint) are sent without a valid token only.
  for (const [service, desc] of Object.entries(SERVICES) as Array<[ServiceName, DescService]>) {
    for (const m of desc.methods) {
      const admin = isAdminMethod(service, m.name);
      const legitimateWhenEmpty = service === "orchestrator" && ["Pause", "Resume", "Checkpoint"].includes(m.name);
      const mustRefuse = !["Info", "Status"].includes(m.name);
      const make = () => request(new Uint8Array(0), mustRefuse);
      if (!admin) cases.push(read(service, m.name, "empty message", make));
      else if (legitimateWhenEmpty) cases.push(noToken(service, m.name, "empty message (a real command)", make, 1));
      else cases.push({ service, method: m.name, label: "empty message", auths: ["none", "wrong", "malformed", "admin"], weight: 1, deadlineMs: 10_000, make });
      // Unknown fields only: decodes as the empty message.
      const unknownFields = () => request(Uint8Array.of(0xf8, 0x3f, 0x01, 0xfa, 0x3f, 0x02, 0x41, 0x42), mustRefuse);
      if (!admin) cases.push(read(service, m.name, "unknown fields only", unknownFields, 0.5));
      else if (legitimateWhenEmpty) cases.push(noToken(service, m.name, "unknown fields only (a real command)", unknownFields));
    }
  }

  // --- policy ---
  cases.push(
    read(
      "policy",
      "Sample",
      "hostile sampling params",
      (h, f) => {
        const b = validBatch(h, f);
        const temperature = h.float();
        const topP = h.chance(0.5) ? h.float() : 1;
        const groupSize = h.chance(0.5) ? h.u32() : 1 + h.int(2);
        const seed = h.pick(["0", "18446744073709551615", "1"]);
        const invalid =
          !(Number.isFinite(temperature) && temperature > 0) || !(Number.isFinite(topP) && topP > 0 && topP <= 1) || groupSize < 1 || groupSize > 8192;
        return request(
          bin(SampleRequestSchema, { inputs: tensor(DataType.INT32, [b.B, b.T], b.inputs), params: { temperature, topP, groupSize, seed } }),
          invalid,
          [],
          `temperature ${temperature} top_p ${topP} group_size ${groupSize} seed ${seed}`,
        );
      },
      3,
    ),
    read(
      "policy",
      "Sample",
      "hostile inputs tensor",
      (h, f) => {
        const { t, label } = brokenTensor(h, f, "ids", [1 + h.int(2), f.seqLen]);
        return request(bin(SampleRequestSchema, { inputs: t, params: { temperature: 1, topP: 1, groupSize: 2, seed: "1" } }), true, [], `inputs: ${label}`);
      },
      3,
    ),
    read("policy", "Sample", "missing params", (h, f) => {
      const b = validBatch(h, f);
      return request(bin(SampleRequestSchema, { inputs: tensor(DataType.INT32, [b.B, b.T], b.inputs) }), true);
    }),
    read("policy", "Sample", "more completions than allowed", (h, f) => {
      const b = validBatch(h, f, 1);
      return request(
        bin(SampleRequestSchema, {
          inputs: tensor(DataType.INT32, [1, b.T], b.inputs),
          params: { temperature: 1, topP: 1, groupSize: 1_000_000 + h.int(1000), seed: "1" },
        }),
        true,
      );
    }),
    noToken("policy", "Update", "a valid update for the next step", (h, f) => request(bin(UpdateRequestSchema, validUpdate(h, f).init), true), 1),
    adminOnly(
      "policy",
      "Update",
      "hostile tensor",
      (h, f) => {
        const { b, init } = validUpdate(h, f);
        const which = h.pick(["inputs", "completions", "advantages", "refLogProbs", "oldLogProbs"] as const);
        const shape = {
          inputs: [b.B, b.T],
          completions: [b.B, b.k, b.T],
          advantages: [b.B, b.k],
          refLogProbs: [b.B, b.T, f.vocabSize],
          oldLogProbs: [b.B, b.k],
        }[which];
        const kind = which === "inputs" || which === "completions" ? "ids" : "floats";
        let { t, label } = brokenTensor(h, f, kind, shape);
        // An old_log_probs tensor is only read with ppo_epochs > 1; make it count.
        const params = which === "oldLogProbs" ? { ...init.params, ppoEpochs: 2 } : init.params;
        if (which === "oldLogProbs" && h.chance(0.3)) [t, label] = [tensor(DataType.FLOAT32, shape, new Float32Array(b.B * b.k).fill(1)), "log-probs > 0"];
        return request(bin(UpdateRequestSchema, { ...init, params, [which]: t }), true, [], `${which} [${shape}]: ${label}`);
      },
      4,
    ),
    adminOnly(
      "policy",
      "Update",
      "hostile train params",
      (h, f) => {
        const { init } = validUpdate(h, f);
        const params = { ...init.params } as Record<string, unknown>;
        const field = h.pick(["learningRate", "minLrRatio", "weightDecay", "beta1", "beta2", "eps", "gradClip", "klBeta", "clipEps", "temperature"]);
        params[field] = h.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, -3.4e38]);
        return request(bin(UpdateRequestSchema, { ...init, params: params as typeof init.params }), true, [], `params.${field} = ${params[field]}`);
      },
      3,
    ),
    adminOnly(
      "policy",
      "Update",
      "hostile enums and counts",
      (h, f) => {
        const { init } = validUpdate(h, f);
        const params = { ...init.params };
        switch (h.int(5)) {
          case 0:
            params.klEstimator = h.pick([KlEstimator.UNSPECIFIED, 99 as KlEstimator]);
            break;
          case 1:
            params.tokenReduction = h.pick([TokenReduction.UNSPECIFIED, 42 as TokenReduction]);
            break;
          case 2:
            params.ppoEpochs = h.pick([0, 0xffffffff, 17]);
            break;
          case 3:
            params.microBatchSize = h.pick([0xffffffff - 1, 0x80000000]);
            params.learningRate = Number.NaN;
            break;
          default:
            return request(bin(UpdateRequestSchema, { ...init, params: undefined }), true);
        }
        return request(bin(UpdateRequestSchema, { ...init, params }), true);
      },
      2,
    ),
    adminOnly("policy", "Update", "step 0 or a step that skips ahead", (h, f) => {
      const { init } = validUpdate(h, f);
      return request(bin(UpdateRequestSchema, { ...init, step: h.pick([0, f.lastStep + 2, 0xffffffff]) }), true);
    }),
    adminOnly("policy", "Update", "completions that contradict the inputs", (h, f) => {
      const { b, init } = validUpdate(h, f);
      const c = b.completions.slice();
      const t = 1 + h.int(b.T - 1);
      const input = b.inputs[t]!;
      c[t] = input === f.maskTokenId ? f.maskTokenId : (input + 1) % f.vocabSize === f.maskTokenId ? (input + 2) % f.vocabSize : (input + 1) % f.vocabSize;
      return request(bin(UpdateRequestSchema, { ...init, completions: tensor(DataType.INT32, [b.B, b.k, b.T], c) }), true);
    }),
    {
      service: "policy",
      method: "Update",
      label: "a replay of an applied step with garbage tensors",
      auths: ["admin"],
      weight: 0.5,
      deadlineMs: 10_000,
      // Exactly-once: a step already applied may be answered from memory (OK) or refused.
      make: (h, f) =>
        request(bin(UpdateRequestSchema, { step: Math.max(1, f.lastStep), inputs: brokenTensor(h, f, "ids", [1, f.seqLen]).t }), f.lastStep === 0),
    },
  );
  const policyPath = (method: "SaveCheckpoint" | "LoadCheckpoint") =>
    adminOnly(
      "policy",
      method,
      "hostile path",
      (h, f) => {
        const dir = h.pick(method === "SaveCheckpoint" ? escapingPaths(f.policyPaths) : hostilePaths(f.policyPaths));
        const schema = method === "SaveCheckpoint" ? SaveCheckpointRequestSchema : LoadCheckpointRequestSchema;
        return request(bin(schema, { dir }), true, dir.length > 256 ? [dir] : [], `dir ${show(dir)}`);
      },
      4,
    );
  cases.push(policyPath("SaveCheckpoint"), policyPath("LoadCheckpoint"));
  cases.push(
    noToken("policy", "SaveCheckpoint", "a valid new folder", (h) => request(bin(SaveCheckpointRequestSchema, { dir: `hostile-save-${h.int(1e9)}` }), true)),
    noToken("policy", "LoadCheckpoint", "the starting checkpoint", (_h, f) =>
      request(bin(LoadCheckpointRequestSchema, { dir: f.policyPaths.symlinkOut ?? "" }), true),
    ),
  );

  // --- reference ---
  const logProbs = (
    label: string,
    make: (h: HostileValues, f: StackFacts, b: Batch) => { init: MessageInitShape<typeof LogProbsRequestSchema>; invalid: boolean; detail?: string },
    weight = 2,
  ) =>
    read(
      "reference",
      "LogProbs",
      label,
      (h, f) => {
        const { init, invalid, detail } = make(h, f, validBatch(h, f));
        return request(bin(LogProbsRequestSchema, init), invalid, [], detail ?? `temperature ${init.temperature}`);
      },
      weight,
    );
  cases.push(
    logProbs("hostile temperature", (h, _f, b) => {
      const temperature = h.float();
      return {
        init: {
          inputs: tensor(DataType.INT32, [b.B, b.T], b.inputs),
          completions: tensor(DataType.INT32, [b.B, b.k, b.T], b.completions),
          temperature,
          returnDistributions: h.chance(0.5),
        },
        invalid: !(Number.isFinite(temperature) && temperature > 0),
      };
    }),
    logProbs(
      "hostile inputs tensor",
      (h, f, b) => {
        const { t, label } = brokenTensor(h, f, "ids", [b.B, b.T]);
        return { init: { inputs: t, temperature: 1, returnDistributions: true }, invalid: true, detail: `inputs: ${label}` };
      },
      3,
    ),
    logProbs(
      "hostile completions tensor",
      (h, f, b) => {
        const { t, label } = brokenTensor(h, f, "ids", [b.B, b.k, b.T]);
        return {
          init: { inputs: tensor(DataType.INT32, [b.B, b.T], b.inputs), completions: t, temperature: 1 },
          invalid: true,
          detail: `completions: ${label}`,
        };
      },
      3,
    ),
    logProbs("completions that contradict the inputs", (h, f, b) => {
      const c = b.completions.slice();
      const t = b.inputs.findIndex((x) => x !== f.maskTokenId);
      if (t >= 0) c[t] = (b.inputs[t]! + 1) % f.vocabSize === f.maskTokenId ? (b.inputs[t]! + 2) % f.vocabSize : (b.inputs[t]! + 1) % f.vocabSize;
      return {
        init: { inputs: tensor(DataType.INT32, [b.B, b.T], b.inputs), completions: tensor(DataType.INT32, [b.B, b.k, b.T], c), temperature: 1 },
        invalid: t >= 0,
      };
    }),
    logProbs("inputs shorter than the model's sequence length", (_h, _f, b) => {
      const T = b.T - 1;
      const inputs = new Int32Array(b.B * T).map((_, i) => b.inputs[Math.floor(i / T) * b.T + (i % T)]!);
      return { init: { inputs: tensor(DataType.INT32, [b.B, T], inputs), temperature: 1, returnDistributions: true }, invalid: true };
    }),
    logProbs("no inputs", () => ({ init: { temperature: 1, returnDistributions: true }, invalid: true }), 1),
  );

  // --- judge ---
  cases.push(
    read(
      "judge",
      "Score",
      "hostile tokens tensor",
      (h, f) => {
        const n = 1 + h.int(3);
        const { t, label } = brokenTensor(h, f, "ids", [n, f.seqLen]);
        return request(bin(ScoreRequestSchema, { tokens: t }), true, [], `tokens: ${label}`);
      },
      4,
    ),
    read("judge", "Score", "int64 ids beyond int32", (h, f) => {
      const ids = new BigInt64Array(f.seqLen).fill(1n);
      ids[h.int(f.seqLen)] = h.pick([2n ** 40n, -(2n ** 63n), 2n ** 63n - 1n]);
      return request(bin(ScoreRequestSchema, { tokens: tensor(DataType.INT64, [1, f.seqLen], ids) }), true);
    }),
    read("judge", "Score", "more rows than the judge takes", (_h, f) => {
      const rows = 100_000;
      return request(bin(ScoreRequestSchema, { tokens: { dtype: f.judgeDtype, shape: [BigInt(rows), BigInt(f.seqLen)], data: new Uint8Array(0) } }), true);
    }),
  );
  /** The admin RPCs that load a model file: LoadModel (judge) and SwapJudge (orchestrator), with a path and a version label. */
  const modelPath =
    (service: ServiceName, method: string, schema: typeof LoadModelRequestSchema | typeof SwapJudgeRequestSchema, deadlineMs: number) =>
    (label: string, path: (h: HostileValues, f: StackFacts) => { path: string; version?: string }, weight = 3) =>
      adminOnly(
        service,
        method,
        label,
        (h, f) => {
          const { path: p, version = "" } = path(h, f);
          return request(
            bin<typeof schema>(schema, { path: p, version }),
            true,
            [p, version].filter((s) => s.length > 256),
            `path ${show(p)} version ${show(version)}`,
          );
        },
        weight,
        deadlineMs,
      );
  const judgePath = modelPath("judge", "LoadModel", LoadModelRequestSchema, 15_000);
  cases.push(
    judgePath("hostile path", (h, f) => ({ path: h.pick([...hostilePaths(f.judgePaths), f.judgePaths.notOnnx]) })),
    judgePath("the serving model with a hostile version label", (h, f) => ({ path: f.judgePaths.servingModel, version: h.pick(HOSTILE_LABELS) })),
    noToken("judge", "LoadModel", "the serving model with a new label", (h, f) =>
      request(bin(LoadModelRequestSchema, { path: f.judgePaths.servingModel, version: `hostile-${h.int(1e9)}` }), true),
    ),
  );

  // --- orchestrator ---
  const swap = modelPath("orchestrator", "SwapJudge", SwapJudgeRequestSchema, SWAP_CALL_DEADLINE_MS);
  cases.push(
    swap("hostile path", (h, f) => ({ path: h.pick([...hostilePaths(f.judgePaths), f.judgePaths.notOnnx]) })),
    swap("a judge with another vocabulary", (_h, f) => ({ path: f.judgePaths.otherVocabModel }), 1),
    swap("the serving model with a hostile version label", (h, f) => ({ path: f.judgePaths.servingModel, version: h.pick(HOSTILE_LABELS) }), 1),
    noToken("orchestrator", "SwapJudge", "the serving model with a new label", (h, f) =>
      request(bin(SwapJudgeRequestSchema, { path: f.judgePaths.servingModel, version: `hostile-${h.int(1e9)}` }), true),
    ),
  );
  return cases;
}
