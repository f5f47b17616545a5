// The reference over real gRPC on loopback with mutual TLS: LogProbs equals the engine called
// directly, bad requests get their status codes, the vocabulary check refuses a mismatched
// checkpoint, /metrics.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { DataType, ReferenceService } from "@grpomesh/proto";
import { checkHealth, createClient, createLocalCredentials, INSECURE, loadSecurity, RpcCallError, Status, type Client, type Security } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { ReferenceEngine } from "@grpomesh/role-engines";
import { initBackend } from "@grpomesh/model";
import { startReferenceServer, type ReferenceServer } from "./reference-server.ts";
import { maskedInputs, tempDir, writeDatasetMeta, writeTinyCheckpoint, TINY_VOCAB } from "./test/fixtures.ts";

await initBackend("wasm", { log: false });

const V = TINY_VOCAB.length;
const B = 3,
  T = 16,
  K = 2;
const dir = tempDir();
writeTinyCheckpoint(`${dir.path}/gen`, 4);
writeDatasetMeta(`${dir.path}/tiny.meta.json`, TINY_VOCAB);
let server: ReferenceServer;
let client: Client<typeof ReferenceService>;
let security: Security;

before(async () => {
  const creds = await createLocalCredentials(`${dir.path}/secrets`);
  // The client certificate alone: the reference has no state-changing RPC, so no token is needed.
  security = loadSecurity({ tlsDir: creds.clientTlsDir });
  server = await startReferenceServer({
    checkpoint: `${dir.path}/gen`,
    dataset_meta: `${dir.path}/tiny.meta.json`,
    address: "127.0.0.1:0",
    metrics_port: 0,
    metrics_host: "127.0.0.1",
    max_batch: 8,
    max_message_bytes: 128 * 1024,
    tls_dir: creds.serverTlsDir,
    admin_token_file: creds.adminTokenFile,
  });
  client = createClient(ReferenceService, server.address, { security });
});
after(async () => {
  client.close();
  await server.shutdown(1_000);
  dir.remove();
});

test("LogProbs over gRPC equals ReferenceEngine called directly; Info and health report the model", async () => {
  assert.equal(await checkHealth(server.address, "grpomesh.v1.ReferenceService", 5_000, security), "SERVING");
  const plain = createClient(ReferenceService, server.address, { deadlineMs: 3_000, security: INSECURE });
  await assert.rejects(plain.info({}), (e: unknown) => e instanceof RpcCallError && e.code === Status.UNAVAILABLE, "no client certificate: no handshake");
  plain.close();
  const direct = await ReferenceEngine.fromCheckpoint(`${dir.path}/gen`);
  const inputs = maskedInputs(B, T, 11);
  const completions = Int32Array.from({ length: B * K * T }, (_, i) => {
    const x = inputs[Math.floor(i / (K * T)) * T + (i % T)]!;
    return x === 1 ? 3 + (i % 7) : x;
  });
  const res = await client.logProbs({
    inputs: encodeTensor(inputs, [B, T]),
    temperature: 0.8,
    returnDistributions: true,
    completions: encodeTensor(completions, [B, K, T]),
  });
  const dist = decodeTensor(res.distributions, { name: "distributions", dtype: DataType.FLOAT32, shape: [B, T, V] }).values;
  const sums = decodeTensor(res.completionLogProbs, { name: "completion_log_probs", dtype: DataType.FLOAT32, shape: [B, K] }).values;
  // temperature travels as a proto float: the engine must be called with the same float32 value
  const tau = Math.fround(0.8);
  const expected = await direct.score(inputs, { batch: B, seqLen: T }, tau, { completions, groupSize: K });
  assert.deepEqual(dist, expected.distributions);
  assert.deepEqual(sums, expected.completionLogProbs);
  assert.deepEqual(await direct.logProbs(inputs, { batch: B, seqLen: T }, tau), dist);

  // distributions only when asked for
  const sumsOnly = await client.logProbs({ inputs: encodeTensor(inputs, [B, T]), temperature: 0.8, completions: encodeTensor(completions, [B, K, T]) });
  assert.equal(sumsOnly.distributions, undefined);
  assert.ok(sumsOnly.completionLogProbs);

  const info = await client.info({});
  assert.deepEqual(
    { type: info.config?.modelType, V: info.config?.vocabSize, T: info.config?.seqLen, backend: info.backend, digest: info.weightsDigest },
    { type: "masked_lm", V, T: 16, backend: direct.info().backend, digest: direct.weightsDigest },
  );
  assert.deepEqual(info.vocab?.tokens, TINY_VOCAB);
  direct.dispose();
});

test("int64 token tensors (numpy's default) get the same answers as int32, bit for bit", async () => {
  const inputs = maskedInputs(B, T, 21);
  const completions = Int32Array.from({ length: B * K * T }, (_, i) => {
    const x = inputs[Math.floor(i / (K * T)) * T + (i % T)]!;
    return x === 1 ? 3 + (i % 5) : x;
  });
  const wide = (a: Int32Array, shape: number[]) => encodeTensor(BigInt64Array.from(a, BigInt), shape);
  const narrow = await client.logProbs({
    inputs: encodeTensor(inputs, [B, T]),
    temperature: 0.7,
    returnDistributions: true,
    completions: encodeTensor(completions, [B, K, T]),
  });
  const widened = await client.logProbs({
    inputs: wide(inputs, [B, T]),
    temperature: 0.7,
    returnDistributions: true,
    completions: wide(completions, [B, K, T]),
  });
  assert.ok(narrow.distributions && narrow.completionLogProbs);
  assert.deepEqual(widened.distributions, narrow.distributions);
  assert.deepEqual(widened.completionLogProbs, narrow.completionLogProbs);
  // one of each is allowed too
  const mixed = await client.logProbs({ inputs: encodeTensor(inputs, [B, T]), temperature: 0.7, completions: wide(completions, [B, K, T]) });
  assert.deepEqual(mixed.completionLogProbs, narrow.completionLogProbs);
});

/** A token other than `x` (and not [MASK]): what a contradicting completion holds at an unmasked position. */
const unmaskedOther = (x: number) => (x === 3 ? 4 : 3);

test("every bad request gets its status code; the weights stay the same and the next request succeeds", async () => {
  const digest = (await client.info({})).weightsDigest;
  const inputs = maskedInputs(B, T, 12);
  const ok = { inputs: encodeTensor(inputs, [B, T]), temperature: 0.8, returnDistributions: true };
  const cases: Array<[string, () => Promise<unknown>, Status, RegExp]> = [
    ["inputs missing", () => client.logProbs({ ...ok, inputs: undefined }), Status.INVALID_ARGUMENT, /inputs is missing/],
    [
      "inputs as float",
      () => client.logProbs({ ...ok, inputs: encodeTensor(Float32Array.from(inputs), [B, T]) }),
      Status.INVALID_ARGUMENT,
      /inputs has dtype FLOAT32; expected INT32 or INT64/,
    ],
    [
      "int64 inputs id 2^32 + 3",
      () =>
        client.logProbs({
          ...ok,
          inputs: encodeTensor(
            BigInt64Array.from(inputs, (x, i) => (i === T + 4 ? 4294967299n : BigInt(x))),
            [B, T],
          ),
        }),
      Status.INVALID_ARGUMENT,
      /inputs\[1, 4\] is 4294967299; expected a token id in \[0, 2147483647\]/,
    ],
    [
      "int64 completions id -2",
      () =>
        client.logProbs({
          ...ok,
          completions: encodeTensor(
            BigInt64Array.from({ length: B * K * T }, (_, i) => (i === K * T + 3 ? -2n : 3n)),
            [B, K, T],
          ),
        }),
      Status.INVALID_ARGUMENT,
      /completions\[1, 0, 3\] is -2; expected a token id in \[0, 2147483647\]/,
    ],
    ["asks for nothing", () => client.logProbs({ ...ok, returnDistributions: false }), Status.INVALID_ARGUMENT, /the request asks for nothing/],
    ["temperature 0", () => client.logProbs({ ...ok, temperature: 0 }), Status.INVALID_ARGUMENT, /temperature is 0; expected a finite number > 0/],
    [
      "token out of range",
      () =>
        client.logProbs({
          ...ok,
          inputs: encodeTensor(
            Int32Array.from(inputs, (x, i) => (i === 5 ? -3 : x)),
            [B, T],
          ),
        }),
      Status.INVALID_ARGUMENT,
      /inputs\[0, 5\] is -3; expected a token id in \[0, 2147483647\]/,
    ],
    ["longer than seq_len", () => client.logProbs({ ...ok, inputs: encodeTensor(new Int32Array(B * 20), [B, 20]) }), Status.INVALID_ARGUMENT, /seq_len is 16/],
    [
      "shorter than seq_len",
      () => client.logProbs({ ...ok, inputs: encodeTensor(maskedInputs(B, 12, 12), [B, 12]) }),
      Status.INVALID_ARGUMENT,
      /inputs have 12 positions; this model's seq_len is 16\. Send sequences of exactly 16 tokens/,
    ],
    [
      "completions that contradict their inputs",
      () =>
        client.logProbs({
          ...ok,
          completions: encodeTensor(
            Int32Array.from({ length: B * K * T }, (_, i) =>
              inputs[Math.floor(i / (K * T)) * T + (i % T)]! === 1 ? 3 : unmaskedOther(inputs[Math.floor(i / (K * T)) * T + (i % T)]!),
            ),
            [B, K, T],
          ),
        }),
      Status.INVALID_ARGUMENT,
      /completions\[input 0, member 0, position \d+\] is \d+ but the input holds \d+ there; completions must equal their inputs at unmasked positions/,
    ],
    [
      "completions of another T",
      () => client.logProbs({ ...ok, completions: encodeTensor(new Int32Array(B * K * 4), [B, K, 4]) }),
      Status.INVALID_ARGUMENT,
      /completions has shape \[3, 2, 4\]; expected \[3, \*, 16\]/,
    ],
    [
      "batch above --max_batch",
      () => client.logProbs({ ...ok, inputs: encodeTensor(new Int32Array(9 * T).fill(1), [9, T]) }),
      Status.RESOURCE_EXHAUSTED,
      /request holds 9 inputs; this engine accepts at most 8/,
    ],
    [
      "message above --max_message_bytes",
      () => client.logProbs({ ...ok, completions: encodeTensor(new Int32Array(B * 1000 * T), [B, 1000, T]) }),
      Status.RESOURCE_EXHAUSTED,
      /./,
    ],
  ];
  for (const [label, call, code, message] of cases) {
    try {
      await call();
      assert.fail(`${label}: expected ${Status[code]}`);
    } catch (err) {
      assert.ok(err instanceof RpcCallError, `${label}: ${String(err)}`);
      assert.equal(err.code, code, `${label}: got ${Status[err.code]}: ${err.details}`);
      assert.match(err.details, message, label);
    }
  }
  assert.equal((await client.info({})).weightsDigest, digest);
  assert.equal(await server.engine.currentWeightsDigest(), digest);
  const res = await client.logProbs(ok);
  assert.equal(res.distributions?.shape.length, 3);
});

test("a checkpoint whose vocabulary differs from the dataset's is refused at start, naming the first difference", async () => {
  const other = [...TINY_VOCAB.slice(0, 5), "x", ...TINY_VOCAB.slice(6)];
  writeDatasetMeta(`${dir.path}/other.meta.json`, other);
  await assert.rejects(
    startReferenceServer({ checkpoint: `${dir.path}/gen`, dataset_meta: `${dir.path}/other.meta.json`, address: "127.0.0.1:0", metrics_port: "off" }),
    /the reference checkpoint does not speak the dataset's vocabulary: token id 5 is "c" in the checkpoint .*gen but "x" in the dataset .*other\.meta\.json/,
  );
  await assert.rejects(
    startReferenceServer({ checkpoint: `${dir.path}/gen`, dataset_meta: `${dir.path}/absent.meta.json`, address: "127.0.0.1:0", metrics_port: "off" }),
    /cannot read the vocabulary in .*absent\.meta\.json.*--dataset_meta=none/,
  );
});

test("/metrics: request counters, inputs served and the model info", async () => {
  const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
  const value = (line: RegExp) => Number(new RegExp(`^${line.source} (\\S+)$`, "m").exec(text)?.[1]);
  assert.ok(value(/reference_request_success_total\{method="LogProbs"\}/) >= 3);
  assert.ok(value(/reference_request_failure_total\{method="LogProbs",code="INVALID_ARGUMENT"\}/) >= 1);
  assert.ok(value(/reference_inputs_total/) >= 3 * B);
  assert.equal(
    value(
      new RegExp(
        `reference_model_info\\{checkpoint="${dir.path}/gen",weights_digest="${server.engine.weightsDigest}",backend="${server.engine.info().backend}"\\}`,
      ),
    ),
    1,
  );
});
