// The judge fleet's swaps against real judge processes over mutual TLS with the admin token: a
// swap reaches every replica or none, a judge whose vocabulary is not the dataset's is refused
// (and rolled back) with start-up's message, a stalled replica never holds a swap past its
// deadline, and a replica that joins speaking another vocabulary is kept out.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { JudgeService } from "@grpomesh/proto";
import {
  bindService,
  createCertificateAuthority,
  createClient,
  createLocalCredentials,
  loadSecurity,
  startServer,
  writeTlsDir,
  type Security,
} from "@grpomesh/rpc";
import { runTsx } from "@grpomesh/rpc/testing";
import { JudgeFleet } from "./judge-fleet.ts";

// Run as processes, by path: a service does not import another service.
const JUDGE_MAIN = fileURLToPath(new URL("../../judge/src/main.ts", import.meta.url));
const MAKE_JUDGE = fileURLToPath(new URL("../../judge/src/make-random-judge.ts", import.meta.url));
const SMALL = ["--seq_len=16", "--n_layer=1", "--d_model=32", "--n_head=2", "--d_ff=64"];
/** The judges' synthetic vocabulary of 20 tokens: what the dataset speaks here. */
const DATASET_VOCAB = ["[PAD]", "[MASK]", ...Array.from({ length: 18 }, (_, i) => String.fromCharCode(32 + i))];

interface JudgeProcess {
  address: string;
  child: ChildProcess;
}

const dir = mkdtempSync(join(tmpdir(), "judge-fleet-"));
const models = { a: join(dir, "models", "a.onnx"), b: join(dir, "models", "b.onnx"), wide: join(dir, "models", "wide.onnx") };
const judges: JudgeProcess[] = [];
let security: Security;
let tokenFile = "";
let serverTlsDir = "";

/** Starts services/judge/src/main.ts on a free loopback port and resolves with its address once it serves. */
function startJudge(model: string): Promise<JudgeProcess> {
  const args = [
    `--model=${model}`,
    "--address=127.0.0.1:0",
    "--metrics_port=off",
    "--sessions=1",
    "--threads=1",
    `--tls_dir=${serverTlsDir}`,
    `--admin_token_file=${tokenFile}`,
  ];
  const child = spawn(process.execPath, ["--import", "tsx", JUDGE_MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`judge did not start in 60 s: ${out} ${err}`)), 60_000);
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /judge: serving address=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ address: m[1]!, child });
      }
    });
    child.on("exit", (code) => reject(new Error(`judge exited ${code} before serving: ${err}`)));
  });
}

before(async () => {
  const creds = await createLocalCredentials(join(dir, "secrets"));
  security = loadSecurity({ tlsDir: creds.clientTlsDir, adminTokenFile: creds.adminTokenFile });
  tokenFile = creds.adminTokenFile;
  serverTlsDir = creds.serverTlsDir;
  const made = await Promise.all([
    runTsx(MAKE_JUDGE, [models.a, "--seed=1", "--version=a", "--vocab_size=20", ...SMALL]),
    runTsx(MAKE_JUDGE, [models.b, "--seed=2", "--version=b", "--vocab_size=20", ...SMALL]),
    runTsx(MAKE_JUDGE, [models.wide, "--seed=3", "--version=wide", "--vocab_size=21", ...SMALL]),
  ]);
  for (const m of made) assert.equal(m.code, 0, m.stderr);
  judges.push(...(await Promise.all([startJudge(models.a), startJudge(models.a), startJudge(models.a)])));
});

after(() => {
  for (const j of judges) j.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** The version every replica serves now, asked directly. */
async function served(addresses: string[]): Promise<string[]> {
  return Promise.all(
    addresses.map(async (address) => {
      const client = createClient(JudgeService, address, { deadlineMs: 10_000, security });
      try {
        return (await client.info({})).modelVersion;
      } finally {
        client.close();
      }
    }),
  );
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a swap reaches every replica over mTLS with the admin token; one to another vocabulary is refused and rolled back everywhere", async () => {
  const pair = [judges[0]!.address, judges[1]!.address];
  const lines: string[] = [];
  const fleet = new JudgeFleet(pair, { security, vocab: { vocab: DATASET_VOCAB, maskTokenId: 1 }, log: (l) => lines.push(l) });
  try {
    const [a] = await served(pair);
    assert.match(a!, /^a\+sha256:[0-9a-f]{12}$/);

    const swapped = await fleet.swapModel(models.b, "");
    assert.ok(
      swapped.every((r) => r.ok),
      JSON.stringify(swapped),
    );
    const [b] = await served(pair);
    assert.match(b!, /^b\+sha256:[0-9a-f]{12}$/);
    assert.deepEqual(
      swapped.map((r) => r.modelVersion),
      [b, b],
    );

    const refused = await fleet.swapModel(models.wide, "");
    assert.equal(refused.length, 2);
    for (const r of refused) {
      assert.equal(r.ok, false);
      assert.equal(r.modelVersion, b);
      // startup.ts's words: "<difference>; use a judge trained on this corpus".
      assert.match(
        r.error,
        new RegExp(
          `^the judge ${r.address} \\(random-judge wide\\+sha256:[0-9a-f]{12}\\) has 21 tokens and the dataset 20; the judge .* goes on with id 20 = "2"; use a judge trained on this corpus; rolled back to b\\+sha256:`,
        ),
      );
    }
    assert.deepEqual(await served(pair), [b, b], "every replica serves the model it had");

    // Without the dataset's vocabulary the fleet cannot tell: the same swap goes through.
    const blind = new JudgeFleet(pair, { security });
    try {
      assert.ok((await blind.swapModel(models.wide, "")).every((r) => r.ok));
      assert.ok((await blind.swapModel(models.b, "")).every((r) => r.ok));
    } finally {
      blind.close();
    }
  } finally {
    fleet.close();
  }
});

test("a stalled replica holds a swap no longer than swapDeadlineMs; nothing is loaded anywhere", async () => {
  const pair = [judges[0]!.address, judges[1]!.address];
  const fleet = new JudgeFleet(pair, { security, swapDeadlineMs: 1_500 });
  const before = await served(pair);
  judges[1]!.child.kill("SIGSTOP");
  try {
    const t0 = Date.now();
    const results = await fleet.swapModel(models.a, "");
    const took = Date.now() - t0;
    assert.ok(took < 6_000 + 1_000, `the swap took ${took} ms with a 6000 ms deadline`);
    assert.ok(
      results.every((r) => !r.ok),
      JSON.stringify(results),
    );
    assert.match(results[1]!.error, /Info failed, nothing was loaded: .*DEADLINE_EXCEEDED/);
    assert.match(results[0]!.error, new RegExp(`nothing was loaded: ${judges[1]!.address} did not answer Info within the swap deadline \\(1500 ms\\)`));
  } finally {
    judges[1]!.child.kill("SIGCONT");
    fleet.close();
  }
  assert.deepEqual(await served(pair), before);
});

test("a replica whose load outlives the deadline is rolled back too, in the background, and takes no chunks until then", async () => {
  const pair = [judges[0]!.address, judges[1]!.address];
  const lines: string[] = [];
  // Generous: the healthy replica must finish its real load within two thirds of it on a busy 2-core machine.
  const fleet = new JudgeFleet(pair, { security, swapDeadlineMs: 6_000, retryMs: 200, log: (l) => lines.push(l) });
  const before = await served(pair);
  try {
    // The second replica answers Info, then stops as its LoadModel goes out (SIGSTOP: a stalled node).
    const stalled = fleet.replicas[1]!;
    const load = stalled.client.loadModel;
    Object.assign(stalled.client, {
      loadModel: (...args: Parameters<typeof load>) => {
        Object.assign(stalled.client, { loadModel: load });
        judges[1]!.child.kill("SIGSTOP");
        return load(...args);
      },
    });
    // Swap to the model they do not serve (earlier tests may have left either).
    const [from, to] = before[0]!.startsWith("a+") ? ["a", "b"] : ["b", "a"];
    const t0 = Date.now();
    const results = await fleet.swapModel(models[to as "a" | "b"], "");
    const took = Date.now() - t0;
    assert.ok(took < 6_000 + 1_000, `the swap took ${took} ms with a 6000 ms deadline`);
    assert.ok(
      results.every((r) => !r.ok),
      JSON.stringify(results),
    );
    assert.deepEqual(
      results.map((r) => r.modelVersion),
      before,
    );
    assert.match(
      results[0]!.error,
      new RegExp(`^it loaded ${to}\\+sha256:[0-9a-f]{12} but ${stalled.target} refused the new model; rolled back to ${from}\\+sha256:[0-9a-f]{12}$`),
    );
    assert.match(
      results[1]!.error,
      new RegExp(`DEADLINE_EXCEEDED.*; rolling back to ${from}\\+sha256:[0-9a-f]{12} in the background, kept out of scoring until then`),
    );
    assert.equal(stalled.pending, true, "no chunks for a replica whose model is unknown");
    judges[1]!.child.kill("SIGCONT");
    await waitFor(
      "both replicas to serve their old model and the fleet to take chunks on both",
      async () => JSON.stringify(await served(pair)) === JSON.stringify(before) && fleet.replicas.every((r) => !r.pending),
    );
  } finally {
    judges[1]!.child.kill("SIGCONT");
    fleet.close();
  }
});

test("a replica that joins speaking another vocabulary is not admitted, and says why once", async () => {
  const [main, joining] = [judges[0]!.address, judges[2]!.address];
  const direct = createClient(JudgeService, joining, { deadlineMs: 30_000, security });
  try {
    await direct.loadModel({ path: models.wide });
  } finally {
    direct.close();
  }
  const lines: string[] = [];
  const fleet = new JudgeFleet([main], { security, vocab: { vocab: DATASET_VOCAB }, retryMs: 100, log: (l) => lines.push(l) });
  try {
    fleet.setTargets([main, joining]);
    await waitFor("the joining replica to be judged", async () => lines.some((l) => l.includes("not admitted")));
    await new Promise((r) => setTimeout(r, 500)); // several retries
    const refusals = lines.filter((l) => l.includes("not admitted"));
    assert.equal(refusals.length, 1, lines.join("\n"));
    assert.match(
      refusals[0]!,
      new RegExp(
        `^judge replica ${joining} not admitted: the judge ${joining} \\(random-judge wide\\+sha256:[0-9a-f]{12}\\) has 21 tokens and the dataset 20; .*use a judge trained on this corpus$`,
      ),
    );
    assert.deepEqual(
      fleet.replicas.map((r) => [r.target, r.pending]),
      [
        [main, false],
        [joining, true],
      ],
    );
  } finally {
    fleet.close();
  }
});

test("a dns:/// fleet dials pods by address and checks their certificates by the Service's name", async () => {
  // A server whose certificate names only "localhost" (no IP): dialled at 127.0.0.1, only the name override lets it in.
  const ca = await createCertificateAuthority("fleet names CA");
  const serverDir = writeTlsDir(join(dir, "named-judge"), await ca.issue({ commonName: "judge", dnsNames: ["localhost"], usage: "server" }), ca.cert);
  const clientDir = writeTlsDir(join(dir, "named-orchestrator"), await ca.issue({ commonName: "orchestrator", usage: "client" }), ca.cert);
  const server = await startServer({
    address: "127.0.0.1:0",
    security: loadSecurity({ tlsDir: serverDir }),
    services: [
      bindService(JudgeService, { score: () => ({}), info: () => ({ modelName: "named", modelVersion: "v1" }), loadModel: () => ({}) }, ["LoadModel"]),
    ],
  });
  const clientSecurity = loadSecurity({ tlsDir: clientDir });
  const viaDns = await JudgeFleet.fromSpec(`dns:///localhost:${server.port}`, { security: clientSecurity });
  const byAddress = new JudgeFleet([server.address], { security: clientSecurity, deadlineMs: 3_000 });
  try {
    const replica = viaDns.replicas.find((r) => r.target.startsWith("127.0.0.1:"));
    assert.ok(replica, `localhost resolved to ${viaDns.replicas.map((r) => r.target).join(", ")}`);
    assert.equal((await replica.client.info({})).modelName, "named");
    await assert.rejects(byAddress.replicas[0]!.client.info({}), /UNAVAILABLE/, "without the name, 127.0.0.1 does not match the certificate");
  } finally {
    viaDns.close();
    byAddress.close();
    await server.shutdown(100);
  }
});

test("a replica that comes back serving another model (a restart after a swap) is not used until it serves the fleet's again", async () => {
  const pair = [judges[0]!.address, judges[1]!.address];
  const lines: string[] = [];
  const fleet = new JudgeFleet(pair, { security, log: (l) => lines.push(l), backoffMs: 20 });
  try {
    assert.ok((await fleet.swapModel(models.b, "")).every((r) => r.ok));
    const [b] = await served(pair);
    // As a restarted process would: the second replica serves its start model again.
    const direct = createClient(JudgeService, pair[1]!, { deadlineMs: 10_000, security });
    try {
      await direct.loadModel({ path: models.a, version: "" });
    } finally {
      direct.close();
    }
    const seqLen = 16;
    const groups = 8;
    const tokens = new Int32Array(groups * 2 * seqLen).fill(3);
    for (let round = 0; round < 3; round++) {
      const scored = await fleet.score(tokens, { count: groups * 2, seqLen, groupSize: 2 });
      assert.deepEqual(new Set(scored.groupVersions), new Set([b]), "no group is scored by another model");
    }
    await waitFor(
      "the replica to be brought back to the fleet's model",
      async () => JSON.stringify(await served(pair)) === JSON.stringify([b, b]) && fleet.replicas.every((r) => !r.pending),
    );
    assert.ok(
      lines.some((l) => /serves a\+sha256:[0-9a-f]{12}, not the fleet's b\+sha256/.test(l)),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => /loaded the fleet's model b\+sha256/.test(l)),
      lines.join("\n"),
    );
  } finally {
    fleet.close();
  }
});
