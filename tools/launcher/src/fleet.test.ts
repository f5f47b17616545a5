// The judge fleet against real judge processes (slow, still in CI): chunks spread over every
// replica, a killed replica's chunks are retried elsewhere with exact results, replicas listed in
// a watched file join while running, and when nothing answers the call fails — never a made-up 0.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { initBackend } from "@grpomesh/model";
import { JudgeFleet } from "@grpomesh/orchestrator";
import { Rng } from "@grpomesh/rng";
import { INSECURE, createLocalCredentials, loadSecurity, type Security } from "@grpomesh/rpc";
import { tsxProcess } from "./stack.ts";
import { Supervisor, freePort } from "./supervisor.ts";
import { judgeLabel, writeCharacterJudge } from "./test-models.ts";

const T = 32;
const dir = mkdtempSync(join(tmpdir(), "grpomesh-fleet-"));
const sup = new Supervisor(join(dir, "logs"));
const addresses: string[] = [];
let eId = 0;
let V = 0;
let security: Security = INSECURE;
let eLabel = "";
let aLabel = "";

before(async () => {
  await initBackend(undefined, { log: false });
  const { vocab } = loadCorpus();
  eId = vocab.idOf("e")!;
  V = vocab.size;
  const model = join(dir, "judge.onnx");
  writeCharacterJudge(model, vocab.tokens, "e", { seqLen: T });
  writeCharacterJudge(join(dir, "a.onnx"), vocab.tokens, "a", { seqLen: T, version: "a-counter-v1" });
  eLabel = judgeLabel(model, "e-counter-v1");
  aLabel = judgeLabel(join(dir, "a.onnx"), "a-counter-v1");
  // As npm start runs them: mutual TLS, and the admin token LoadModel needs.
  const creds = await createLocalCredentials(join(dir, "secrets"));
  security = loadSecurity({ tlsDir: creds.clientTlsDir, adminTokenFile: creds.adminTokenFile });
  const specs = [];
  for (let i = 0; i < 4; i++) {
    const port = await freePort();
    addresses.push(`127.0.0.1:${port}`);
    specs.push(
      tsxProcess(
        `judge-${i}`,
        "services/judge/src/main.ts",
        [
          `--model=${model}`,
          `--address=127.0.0.1:${port}`,
          "--metrics_port=off",
          `--tls_dir=${creds.serverTlsDir}`,
          `--admin_token_file=${creds.adminTokenFile}`,
        ],
        { healthTarget: `127.0.0.1:${port}`, healthSecurity: security },
      ),
    );
  }
  await sup.startAll(specs, { timeoutMs: 120_000 });
});

after(async () => {
  await sup.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Random sequences and the exact score the character judge gives each: 2·share('e') − 1. */
function batch(count: number, seed: number): { seqs: Int32Array; want: Float32Array } {
  const rng = new Rng(seed);
  const seqs = new Int32Array(count * T);
  const want = new Float32Array(count);
  for (let s = 0; s < count; s++) {
    let e = 0;
    for (let t = 0; t < T; t++) {
      const id = rng.next() < 0.3 ? eId : 2 + rng.nextInt(V - 2);
      seqs[s * T + t] = id;
      if (id === eId) e++;
    }
    want[s] = (2 * e) / T - 1;
  }
  return { seqs, want };
}

function assertScores(got: Float32Array, want: Float32Array): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4, `score ${i}: ${got[i]} vs ${want[i]}`);
}

test("a step's chunks are spread over every replica and reassembled in order", async () => {
  const fleet = new JudgeFleet(addresses.slice(0, 3), { security });
  try {
    const { seqs, want } = batch(16 * 4, 1);
    const res = await fleet.score(seqs, { count: 64, seqLen: T, groupSize: 4 });
    assertScores(res.scores, want);
    assert.deepEqual([...new Set(res.groupVersions)], [eLabel]);
    const shares = fleet.shares();
    for (const a of addresses.slice(0, 3)) assert.ok(shares[a]! > 0, `replica ${a} served nothing: ${JSON.stringify(shares)}`);
    assert.equal(
      Object.values(shares).reduce((x, y) => x + y, 0),
      64,
    );
  } finally {
    fleet.close();
  }
});

test("replicas listed in a watched file join while running", async () => {
  const file = join(dir, "judges.txt");
  writeFileSync(file, `${addresses[0]}\n`);
  const fleet = await JudgeFleet.fromSpec(`@${file}`, { refreshMs: 50, security });
  try {
    const { seqs, want } = batch(32, 2);
    assertScores((await fleet.score(seqs, { count: 32, seqLen: T, groupSize: 4 })).scores, want);
    assert.deepEqual(Object.keys(fleet.shares()), [addresses[0]]);
    appendFileSync(file, `${addresses[1]}\n`);
    const until = Date.now() + 5_000;
    while ((fleet.replicas.length < 2 || fleet.replicas.some((r) => r.pending)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assertScores((await fleet.score(seqs, { count: 32, seqLen: T, groupSize: 4 })).scores, want);
    assert.ok(fleet.shares()[addresses[1]!]! > 0, `the new replica served nothing: ${JSON.stringify(fleet.shares())}`);
  } finally {
    fleet.close();
  }
});

test("a replica that joins after a swap is brought to the fleet's model before it gets chunks", async () => {
  const file = join(dir, "judges-swap.txt");
  writeFileSync(file, `${addresses[0]}\n`);
  const fleet = await JudgeFleet.fromSpec(`@${file}`, { refreshMs: 50, security });
  try {
    const swapped = await fleet.swapModel(join(dir, "a.onnx"), "");
    assert.deepEqual(
      swapped.map((r) => [r.ok, r.modelVersion]),
      [[true, aLabel]],
    );
    appendFileSync(file, `${addresses[1]}\n`); // still serving the e-counter model
    const until = Date.now() + 10_000;
    while ((fleet.replicas.length < 2 || fleet.replicas.some((r) => r.pending)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.ok(fleet.replicas.length === 2 && fleet.replicas.every((r) => !r.pending), "the new replica was not admitted");
    const { seqs } = batch(32, 3);
    const res = await fleet.score(seqs, { count: 32, seqLen: T, groupSize: 4 });
    assert.deepEqual([...new Set(res.groupVersions)], [aLabel]);
    assert.ok(fleet.shares()[addresses[1]!]! > 0);
  } finally {
    fleet.close();
  }
});

test("a killed replica's chunks are retried on the others; with none left the call fails loudly", async () => {
  const fleet = new JudgeFleet([addresses[2]!, addresses[3]!], { backoffMs: 20, security });
  try {
    sup.signal("judge-3", "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 5; i++) {
      const { seqs, want } = batch(32, 10 + i);
      assertScores((await fleet.score(seqs, { count: 32, seqLen: T, groupSize: 4 })).scores, want);
    }
    assert.ok(fleet.replicas.find((r) => r.target === addresses[3])!.failures > 0, "the dead replica was never tried");
    assert.equal(fleet.shares()[addresses[2]!], 5 * 32);

    sup.signal("judge-2", "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    const { seqs } = batch(8, 99);
    await assert.rejects(fleet.score(seqs, { count: 8, seqLen: T, groupSize: 4 }), /no judge replica scored a chunk of \d+ sequences/);
  } finally {
    fleet.close();
  }
});
