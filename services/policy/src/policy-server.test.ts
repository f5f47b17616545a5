// The policy over real gRPC on loopback: the full round trip, exactly-once updates, every bad input
// with its status code (and no state change), the checkpoint root, health and /metrics.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { DataType, PolicyService } from "@grpomesh/proto";
import { writeFileSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { checkHealth, createClient, loadSecurity, RpcCallError, Status, type Client } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { PolicyEngine, ReferenceEngine } from "@grpomesh/role-engines";
import { initBackend } from "@grpomesh/model";
import type { UpdatePayload } from "@grpomesh/loop";
import { startPolicyServer, type PolicyServer } from "./policy-server.ts";
import { maskedInputs, tempDir, trainParams, updateRequest, writeTinyCheckpoint, TINY_VOCAB } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

const V = TINY_VOCAB.length;
const B = 4,
  T = 16,
  K = 3;
const dir = tempDir();
writeTinyCheckpoint(`${dir.path}/gen`, 1);
const tokenFile = `${dir.path}/admin-token`;
writeFileSync(tokenFile, "policy-test-admin-token-0123456789\n");
let server: PolicyServer;
let client: Client<typeof PolicyService>;
let anonymous: Client<typeof PolicyService>;
let reference: ReferenceEngine;

before(async () => {
  server = await startPolicyServer({
    checkpoint: `${dir.path}/gen`,
    address: "127.0.0.1:0",
    metrics_port: 0,
    metrics_host: "127.0.0.1",
    max_batch: 8,
    max_completions: 64,
    max_message_bytes: 256 * 1024,
    checkpoint_root: dir.path,
    admin_token_file: tokenFile,
  });
  client = createClient(PolicyService, server.address, { deadlineMs: 30_000, security: loadSecurity({ adminTokenFile: tokenFile }) });
  anonymous = createClient(PolicyService, server.address, { deadlineMs: 30_000 });
  reference = await ReferenceEngine.fromCheckpoint(`${dir.path}/gen`);
});
after(async () => {
  client.close();
  anonymous.close();
  await server.shutdown(1_000);
  reference.dispose();
  dir.remove();
});

async function sampleOverGrpc(inputs: Int32Array, seed: string) {
  const res = await client.sample({ inputs: encodeTensor(inputs, [B, T]), params: { temperature: 0.8, topP: 0.95, groupSize: K, seed } });
  return {
    completions: decodeTensor(res.completions, { name: "completions", dtype: DataType.INT32, shape: [B, K, T] }).values,
    logProbs: decodeTensor(res.logProbs, { name: "log_probs", dtype: DataType.FLOAT32, shape: [B, K] }).values,
    policyVersion: res.policyVersion,
  };
}

/** A real Update for `step`: completions sampled over gRPC, reference log-probs from the same weights' reference. */
async function payloadFor(step: number): Promise<UpdatePayload> {
  const inputs = maskedInputs(B, T, step);
  const s = await sampleOverGrpc(inputs, String(step));
  const params = trainParams();
  const refLogProbs = await reference.logProbs(inputs, { batch: B, seqLen: T }, params.temperature);
  const advantages = Float32Array.from({ length: B * K }, (_, i) => [1, -0.5, -0.5][i % K]! * (1 + (i % 5) / 10));
  return { step, batch: B, seqLen: T, groupSize: K, inputs, completions: s.completions, advantages, refLogProbs, oldLogProbs: s.logProbs, params };
}

async function expectStatus(call: Promise<unknown>, code: Status, message: RegExp, label: string): Promise<void> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof RpcCallError, `${label}: ${String(err)}`);
    assert.equal(err.code, code, `${label}: got ${Status[err.code]}: ${err.details}`);
    assert.match(err.details, message, label);
    return;
  }
  assert.fail(`${label}: expected ${Status[code]}, but the call succeeded`);
}

test("Info, Sample, Update, SaveCheckpoint, LoadCheckpoint round trip; gRPC matches the engine bit for bit", async () => {
  assert.equal(await checkHealth(server.address), "SERVING");
  assert.equal(await checkHealth(server.address, "grpomesh.v1.PolicyService"), "SERVING");
  const info0 = await client.info({});
  assert.deepEqual(
    {
      type: info0.config?.modelType,
      V: info0.config?.vocabSize,
      T: info0.config?.seqLen,
      L: info0.config?.nLayer,
      D: info0.config?.dModel,
      version: info0.policyVersion,
      step: info0.lastStep,
      backend: info0.backend,
    },
    { type: "masked_lm", V, T: 16, L: 2, D: 32, version: 0, step: 0, backend: (await server.engine.info()).backend },
  );
  assert.deepEqual(info0.vocab?.tokens, TINY_VOCAB);
  assert.equal(info0.vocab?.maskTokenId, 1);
  assert.ok(info0.parameterCount > 0);

  // the same engine in-process, fed what the server received, must end with the same weights
  const local = await PolicyEngine.fromCheckpoint(`${dir.path}/gen`);
  assert.equal((await local.state()).weightsDigest, info0.weightsDigest);
  const p1 = await payloadFor(1);
  const direct = await local.sample(p1.inputs, { batch: B, seqLen: T }, { temperature: 0.8, topP: 0.95, groupSize: K, seed: "1" });
  assert.deepEqual(direct.completions, p1.completions);
  assert.deepEqual(direct.logProbs, p1.oldLogProbs);

  const r1 = await client.update(updateRequest(p1));
  assert.deepEqual({ step: r1.step, v: r1.policyVersion, replayed: r1.replayed }, { step: 1, v: 1, replayed: false });
  const l1 = await local.update(p1);
  assert.equal(r1.metrics!.loss, l1.metrics.loss);
  assert.equal(r1.metrics!.gradNorm, l1.metrics.gradNorm);
  assert.equal(r1.metrics!.tokens, l1.metrics.tokens);
  const info1 = await client.info({});
  assert.deepEqual({ v: info1.policyVersion, s: info1.lastStep }, { v: 1, s: 1 });
  assert.notEqual(info1.weightsDigest, info0.weightsDigest);
  assert.equal(info1.weightsDigest, (await local.state()).weightsDigest);

  // a duplicate Update is answered from memory with the same metrics and changes nothing
  const dup = await client.update(updateRequest(p1));
  assert.equal(dup.replayed, true);
  assert.deepEqual(dup.metrics, r1.metrics);
  assert.equal((await client.info({})).weightsDigest, info1.weightsDigest);

  const saved = await client.saveCheckpoint({ dir: "ckpt/step-1" }); // relative: inside the checkpoint root
  assert.deepEqual(saved.files, [".grpomesh-checkpoint", "config.json", "model.safetensors", "optimizer.safetensors", "policy-state.json"]);
  assert.deepEqual({ v: saved.policyVersion, s: saved.lastStep, d: saved.weightsDigest }, { v: 1, s: 1, d: info1.weightsDigest });

  const p2 = await payloadFor(2);
  assert.equal((await client.update(updateRequest(p2))).policyVersion, 2);
  await local.update(p2);
  assert.equal((await client.info({})).weightsDigest, (await local.state()).weightsDigest);

  const loaded = await client.loadCheckpoint({ dir: `${dir.path}/ckpt/step-1` });
  assert.deepEqual({ v: loaded.policyVersion, s: loaded.lastStep, d: loaded.weightsDigest }, { v: 1, s: 1, d: info1.weightsDigest });
  // after the rewind, step 2 applies again and reaches the same weights
  assert.equal((await client.update(updateRequest(p2))).replayed, false);
  assert.equal((await client.info({})).weightsDigest, (await local.state()).weightsDigest);
  local.dispose();
});

test("every bad request gets its status code, state is unchanged, and the next good request succeeds", async () => {
  const state = await client.info({});
  const step = state.lastStep + 1;
  const good = await payloadFor(step);
  const req = updateRequest(good);
  const f32 = (a: Float32Array, i: number, v: number) => Float32Array.from(a, (x, j) => (j === i ? v : x));
  const cases: Array<[string, () => Promise<unknown>, Status, RegExp]> = [
    ["inputs missing", () => client.update({ ...req, inputs: undefined }), Status.INVALID_ARGUMENT, /inputs is missing/],
    [
      "inputs as float",
      () => client.update({ ...req, inputs: encodeTensor(Float32Array.from(good.inputs), [B, T]) }),
      Status.INVALID_ARGUMENT,
      /inputs has dtype FLOAT32; expected INT32/,
    ],
    [
      "inputs with bad byte count",
      () => client.update({ ...req, inputs: { ...req.inputs!, shape: [BigInt(B), BigInt(T + 1)] } }),
      Status.INVALID_ARGUMENT,
      /inputs: 256 bytes for shape \[4, 17\]/,
    ],
    [
      "completions of another T",
      () => client.update({ ...req, completions: encodeTensor(new Int32Array(B * K * 8), [B, K, 8]) }),
      Status.INVALID_ARGUMENT,
      /completions has shape \[4, 3, 8\]; expected \[4, \*, 16\]/,
    ],
    [
      "advantages of another k",
      () => client.update({ ...req, advantages: encodeTensor(new Float32Array(B * 2), [B, 2]) }),
      Status.INVALID_ARGUMENT,
      /advantages has shape \[4, 2\]; expected \[4, 3\]/,
    ],
    [
      "ref log-probs of another vocabulary",
      () => client.update({ ...req, refLogProbs: encodeTensor(new Float32Array(B * T * 12), [B, T, 12]) }),
      Status.INVALID_ARGUMENT,
      /ref_log_probs has shape \[4, 16, 12\]; expected \[4, 16, 10\]/,
    ],
    [
      "NaN advantage",
      () => client.update({ ...req, advantages: encodeTensor(f32(good.advantages, 4, NaN), [B, K]) }),
      Status.INVALID_ARGUMENT,
      /advantages\[4\] \(input 1, member 1\) is NaN/,
    ],
    [
      "token out of range",
      () =>
        client.update({
          ...req,
          inputs: encodeTensor(
            Int32Array.from(good.inputs, (x, i) => (i === 0 ? 99 : x)),
            [B, T],
          ),
        }),
      Status.INVALID_ARGUMENT,
      /inputs\[0\] is 99/,
    ],
    ["params missing", () => client.update({ ...req, params: undefined }), Status.INVALID_ARGUMENT, /params is missing/],
    [
      "KL estimator unspecified",
      () => client.update({ ...req, params: { ...req.params!, klEstimator: 0 } }),
      Status.INVALID_ARGUMENT,
      /kl_estimator is KL_ESTIMATOR_UNSPECIFIED/,
    ],
    [
      "learning rate 0",
      () => client.update({ ...req, params: { ...req.params!, learningRate: 0 } }),
      Status.INVALID_ARGUMENT,
      /learning_rate is 0 \(TrainParams.learningRate\); expected a number > 0/,
    ],
    ["ppo epochs 0", () => client.update({ ...req, params: { ...req.params!, ppoEpochs: 0 } }), Status.INVALID_ARGUMENT, /ppo_epochs is 0/],
    [
      "behaviour version ahead of the policy",
      () => client.update({ ...req, behaviourVersion: 99 }),
      Status.FAILED_PRECONDITION,
      /behaviour_version 99 is newer than the policy's version/,
    ],
    [
      "importance weight cap 0.5",
      () => client.update({ ...req, params: { ...req.params!, importanceWeightCap: 0.5 } }),
      Status.INVALID_ARGUMENT,
      /importance_weight_cap is 0.5/,
    ],
    [
      "a gap",
      () => client.update({ ...req, step: step + 1 }),
      Status.FAILED_PRECONDITION,
      new RegExp(`policy has applied steps up to ${step - 1}; Update for step ${step + 1} would skip step ${step}`),
    ],
    [
      "batch above --max_batch",
      () =>
        client.update(
          updateRequest({
            ...good,
            batch: 9,
            inputs: new Int32Array(9 * T).fill(2),
            completions: new Int32Array(9 * K * T).fill(2),
            advantages: new Float32Array(9 * K),
            refLogProbs: new Float32Array(9 * T * V),
            oldLogProbs: new Float32Array(9 * K),
          }),
        ),
      Status.RESOURCE_EXHAUSTED,
      /request holds 9 inputs; this engine accepts at most 8/,
    ],
    [
      "message above --max_message_bytes",
      () => client.update({ ...req, refLogProbs: encodeTensor(new Float32Array(70_000), [70_000]) }),
      Status.RESOURCE_EXHAUSTED,
      /./,
    ],
    ["sample: params missing", () => client.sample({ inputs: encodeTensor(good.inputs, [B, T]) }), Status.INVALID_ARGUMENT, /params is missing/],
    [
      "sample: top_p 1.5",
      () => client.sample({ inputs: encodeTensor(good.inputs, [B, T]), params: { temperature: 1, topP: 1.5, groupSize: 2, seed: "3" } }),
      Status.INVALID_ARGUMENT,
      /top_p is 1.5/,
    ],
    [
      "sample: too many completions",
      () => client.sample({ inputs: encodeTensor(good.inputs, [B, T]), params: { temperature: 1, topP: 1, groupSize: 17, seed: "3" } }),
      Status.RESOURCE_EXHAUSTED,
      /4 × 17 = 68 completions/,
    ],
    [
      "sample: inputs of rank 1",
      () => client.sample({ inputs: encodeTensor(good.inputs, [B * T]), params: { temperature: 1, topP: 1, groupSize: 2, seed: "3" } }),
      Status.INVALID_ARGUMENT,
      /inputs has shape \[64\]; expected \[\*, \*\]/,
    ],
    ["load: missing folder", () => client.loadCheckpoint({ dir: "nope" }), Status.NOT_FOUND, /checkpoint folder .*nope does not exist/],
    [
      "load: outside the checkpoint root",
      () => client.loadCheckpoint({ dir: "/etc" }),
      Status.PERMISSION_DENIED,
      /dir "\/etc" is outside .*; use a path inside it/,
    ],
    [
      "load: another architecture",
      async () => {
        writeTinyCheckpoint(`${dir.path}/wide`, 2, { d_model: 48, n_head: 2 });
        return client.loadCheckpoint({ dir: "wide" });
      },
      Status.FAILED_PRECONDITION,
      /d_model is 48 in the checkpoint .* but 32 in the running policy/,
    ],
    ["save: empty dir", () => client.saveCheckpoint({ dir: "" }), Status.INVALID_ARGUMENT, /dir is empty/],
    ["save: escaping the root", () => client.saveCheckpoint({ dir: "../elsewhere" }), Status.PERMISSION_DENIED, /is outside/],
    [
      "save: a 100 kB path",
      () => client.saveCheckpoint({ dir: "a".repeat(100_000) }),
      Status.INVALID_ARGUMENT,
      /dir is 100000 bytes .*paths are at most 4096 bytes/,
    ],
    [
      "save: onto a file that is not a checkpoint",
      () => client.saveCheckpoint({ dir: "victim/important.txt" }),
      Status.FAILED_PRECONDITION,
      /is not a checkpoint folder this project wrote .*nothing was changed/,
    ],
    ["save: onto a foreign folder", () => client.saveCheckpoint({ dir: "victim" }), Status.FAILED_PRECONDITION, /no \.grpomesh-checkpoint marker/],
    ["save: through a symbolic link out of the root", () => client.saveCheckpoint({ dir: "link-out/x" }), Status.PERMISSION_DENIED, /is outside/],
    ["update without the admin token", () => anonymous.update(req), Status.UNAUTHENTICATED, /needs the admin token/],
    ["save without the admin token", () => anonymous.saveCheckpoint({ dir: "ckpt/anon" }), Status.UNAUTHENTICATED, /needs the admin token/],
    ["load without the admin token", () => anonymous.loadCheckpoint({ dir: "ckpt/step-1" }), Status.UNAUTHENTICATED, /needs the admin token/],
  ];
  mkdirSync(`${dir.path}/victim`, { recursive: true });
  writeFileSync(`${dir.path}/victim/important.txt`, "keep me");
  symlinkSync("/tmp", `${dir.path}/link-out`);
  for (const [label, call, code, message] of cases) {
    await expectStatus(call(), code, message, label);
    const now = await client.info({});
    assert.deepEqual(
      { v: now.policyVersion, s: now.lastStep, d: now.weightsDigest },
      { v: state.policyVersion, s: state.lastStep, d: state.weightsDigest },
      `${label} changed the state`,
    );
  }
  assert.equal(readFileSync(`${dir.path}/victim/important.txt`, "utf8"), "keep me");
  const ok = await client.update(req);
  assert.deepEqual({ replayed: ok.replayed, v: ok.policyVersion }, { replayed: false, v: state.policyVersion + 1 });
});

test("int64 token tensors (numpy's default) get the same answers as int32, bit for bit; ids outside int32 are refused naming the element", async () => {
  const wide = (a: Int32Array, shape: number[]) => encodeTensor(BigInt64Array.from(a, BigInt), shape);
  const inputs = maskedInputs(B, T, 77);
  const params = { temperature: 0.8, topP: 0.95, groupSize: K, seed: "77" };
  const narrow = await client.sample({ inputs: encodeTensor(inputs, [B, T]), params });
  const widened = await client.sample({ inputs: wide(inputs, [B, T]), params });
  assert.deepEqual(widened.completions, narrow.completions);
  assert.deepEqual(widened.logProbs, narrow.logProbs);
  assert.equal(widened.policyVersion, narrow.policyVersion);

  // Update: the server fed int64 tensors and an engine at the same state fed Int32Arrays end equal.
  await client.saveCheckpoint({ dir: "ckpt/int64-twin" });
  const local = await PolicyEngine.fromCheckpoint(`${dir.path}/ckpt/int64-twin`);
  const state = await client.info({});
  const p = await payloadFor(state.lastStep + 1);
  const req = updateRequest(p);
  const bad: Array<[string, () => Promise<unknown>, RegExp]> = [
    [
      "inputs id 2^32 + 3",
      () =>
        client.update({
          ...req,
          inputs: encodeTensor(
            BigInt64Array.from(p.inputs, (x, i) => (i === 17 ? 4294967299n : BigInt(x))),
            [B, T],
          ),
        }),
      /inputs\[1, 1\] is 4294967299; expected a token id in \[0, 2147483647\]/,
    ],
    [
      "completions id -1",
      () =>
        client.update({
          ...req,
          completions: encodeTensor(
            BigInt64Array.from(p.completions, (x, i) => (i === T + 2 ? -1n : BigInt(x))),
            [B, K, T],
          ),
        }),
      /completions\[0, 1, 2\] is -1; expected a token id in \[0, 2147483647\]/,
    ],
    [
      "sample: inputs id 2^31",
      () =>
        client.sample({
          inputs: encodeTensor(
            BigInt64Array.from(inputs, (x, i) => (i === 3 ? 2n ** 31n : BigInt(x))),
            [B, T],
          ),
          params,
        }),
      /inputs\[0, 3\] is 2147483648; expected a token id in \[0, 2147483647\]/,
    ],
  ];
  for (const [label, call, message] of bad) await expectStatus(call(), Status.INVALID_ARGUMENT, message, label);
  assert.equal((await client.info({})).weightsDigest, state.weightsDigest);
  const r = await client.update({ ...req, inputs: wide(p.inputs, [B, T]), completions: wide(p.completions, [B, K, T]) });
  assert.equal(r.replayed, false);
  const l = await local.update(p);
  assert.equal(r.metrics!.loss, l.metrics.loss);
  assert.equal(r.metrics!.gradNorm, l.metrics.gradNorm);
  assert.equal(r.metrics!.tokens, l.metrics.tokens);
  assert.equal((await client.info({})).weightsDigest, (await local.state()).weightsDigest);
  local.dispose();
});

test("/metrics: request counters, policy_version, policy_last_step, update duration and grad norm", async () => {
  const info = await client.info({});
  const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
  const value = (line: RegExp) => Number(new RegExp(`^${line.source} (\\S+)$`, "m").exec(text)?.[1]);
  assert.equal(value(/policy_version/), info.policyVersion);
  assert.equal(value(/policy_last_step/), info.lastStep);
  assert.ok(value(/policy_update_duration_seconds_count/) >= 3);
  assert.ok(value(/policy_grad_norm_count/) >= 3);
  assert.ok(value(/policy_updates_total\{result="replayed"\}/) >= 1);
  assert.ok(value(/policy_request_success_total\{method="Update"\}/) >= 4);
  assert.ok(value(/policy_request_failure_total\{method="Update",code="INVALID_ARGUMENT"\}/) >= 1);
  assert.ok(value(/policy_request_failure_total\{method="Update",code="FAILED_PRECONDITION"\}/) >= 1);
  assert.ok(value(/policy_request_duration_seconds_count\{method="Sample"\}/) >= 1);
  assert.ok(value(/policy_sampled_sequences_total/) >= B * K);
});

test("a checkpoint that cannot be loaded stops the start with the reason", async () => {
  await assert.rejects(
    startPolicyServer({ checkpoint: `${dir.path}/missing`, address: "127.0.0.1:0", metrics_port: "off" }),
    /checkpoint folder .*missing does not exist/,
  );
  writeTinyCheckpoint(`${dir.path}/scorer`, 1, { model_type: "sequence_scorer" });
  await assert.rejects(
    startPolicyServer({ checkpoint: `${dir.path}/scorer`, address: "127.0.0.1:0", metrics_port: "off" }),
    /the policy needs a masked_lm generator; this checkpoint is a sequence_scorer/,
  );
});
