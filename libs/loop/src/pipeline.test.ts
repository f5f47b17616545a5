// Pipelined steps (max_staleness > 0): the next steps are sampled and judged while the current one
// updates, at most max_staleness versions behind; the pipeline is empty at each interval
// checkpoint, so a run resumed after a crash is bit-identical to the unbroken one; a checkpoint
// taken between them loses and repeats nothing.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrpoTrainer, type StepRecord, type TrainerHooks } from "./trainer.ts";
import { readLog } from "./run-dir.ts";
import { TINY_MASK, tinyConfig, tinyPorts } from "./testing.ts";

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempRun = () => {
  const dir = mkdtempSync(join(tmpdir(), "loop-pipe-"));
  made.push(dir);
  return dir;
};

function trainerIn(runDir: string, overrides = {}, opts: { judgeDelayMs?: number; hooks?: TrainerHooks } = {}) {
  const ports = tinyPorts(opts);
  return { ports, trainer: new GrpoTrainer(ports, tinyConfig(overrides), { runDir, maskTokenId: TINY_MASK, hooks: opts.hooks }) };
}

const stepRecords = (runDir: string) => readLog(join(runDir, "log.jsonl")).records.filter((r) => r.type === "step") as unknown as StepRecord[];

async function unbroken(overrides: object) {
  const dir = tempRun();
  const { ports, trainer } = trainerIn(dir, overrides);
  trainer.begin();
  await trainer.run();
  return { dir, digest: (await ports.policy.state()).weightsDigest, cursor: ports.data.cursor() };
}

test("max_staleness s: each step sampled up to s versions behind, none past an interval checkpoint; every step updated once, in order", async () => {
  for (const [s, want] of [
    [1, [0, 1, 1, 1, 0, 1, 1, 1]],
    [2, [0, 1, 2, 2, 0, 1, 2, 2]],
  ] as const) {
    const { dir, cursor } = await unbroken({ max_staleness: s, max_iters: 8, checkpoint_interval: 4 });
    const records = stepRecords(dir);
    assert.deepEqual(
      records.map((r) => r.step),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.deepEqual(
      records.map((r) => r.staleness),
      want,
      `max_staleness ${s}`,
    );
    for (const r of records) {
      assert.equal(r.behaviour_version, r.policy_version - 1 - r.staleness, `step ${r.step}: behaviour version`);
      assert.deepEqual(Object.keys(r.idle_fraction).sort(), ["judge", "policy", "reference"]);
      for (const f of Object.values(r.idle_fraction)) assert.ok(f >= 0 && f <= 1, `idle fraction ${f}`);
    }
    assert.equal(cursor, 8, "no batch is drawn past max_iters");
  }
});

test("a pipelined run that crashes resumes from its interval checkpoint bit-identically, each step logged once", async () => {
  const config = { max_staleness: 1, max_iters: 10, checkpoint_interval: 4 };
  const want = await unbroken(config);
  const dir = tempRun();
  const a = trainerIn(dir, config);
  const update = a.ports.policy.update.bind(a.ports.policy);
  a.ports.policy.update = async (p) => {
    if (p.step === 7) throw new Error("policy lost (crash)");
    return update(p);
  };
  a.trainer.begin();
  await assert.rejects(a.trainer.run(), /policy lost/);
  const b = trainerIn(dir, config);
  assert.equal((await b.trainer.resumeFromCheckpoint()).step, 4);
  await b.trainer.run();
  assert.deepEqual(
    stepRecords(dir).map((r) => r.step),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  assert.equal((await b.ports.policy.state()).weightsDigest, want.digest, "resumed = unbroken");
  assert.deepEqual(
    stepRecords(dir).map((r) => r.staleness),
    stepRecords(want.dir).map((r) => r.staleness),
  );
});

test("a stop between checkpoints: the steps drawn ahead are not in its checkpoint, and the resumed run draws each batch once", async () => {
  const config = { max_staleness: 2, max_iters: 9, checkpoint_interval: 0 };
  const dir = tempRun();
  const abort = new AbortController();
  const a = trainerIn(dir, config, { hooks: { onStep: (r) => void (r.step === 3 && abort.abort()) } });
  a.trainer.begin();
  await a.trainer.run(abort.signal); // steps 4 and 5 were drawn and sampled ahead when it stopped
  assert.equal(a.trainer.step, 3);
  assert.ok(a.ports.data.cursor() > 3, "the stop found steps drawn ahead");
  const b = trainerIn(dir, config);
  assert.equal((await b.trainer.resumeFromCheckpoint()).step, 3);
  assert.equal(b.ports.data.cursor(), 3, "the checkpoint's cursor is the one before the steps drawn ahead");
  await b.trainer.run();
  assert.deepEqual(
    stepRecords(dir).map((r) => r.step),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.equal(b.ports.data.cursor(), 9, "every batch drawn once: none skipped, none twice");
});

test("with slow judges and updates, pipelining overlaps them: more steps per second, judges idle less", async () => {
  const run = async (max_staleness: number) => {
    const dir = tempRun();
    const { ports, trainer } = trainerIn(dir, { max_staleness, max_iters: 8, checkpoint_interval: 0 }, { judgeDelayMs: 40 });
    ports.policy.updateDelayMs = 40;
    trainer.begin();
    const t = performance.now();
    await trainer.run();
    const records = stepRecords(dir).slice(2); // past the first steps that fill the pipeline
    const mean = (f: (r: StepRecord) => number) => records.reduce((s, r) => s + f(r), 0) / records.length;
    return { ms: performance.now() - t, judgeIdle: mean((r) => r.idle_fraction.judge), policyIdle: mean((r) => r.idle_fraction.policy) };
  };
  const sync = await run(0);
  const piped = await run(1);
  assert.ok(piped.ms < 0.8 * sync.ms, `pipelined ${piped.ms.toFixed(0)} ms vs synchronous ${sync.ms.toFixed(0)} ms`);
  assert.ok(sync.judgeIdle > 0.3, `synchronous judges wait for every update: idle ${sync.judgeIdle}`);
  assert.ok(piped.judgeIdle < sync.judgeIdle - 0.2, `pipelined judge idle ${piped.judgeIdle} vs synchronous ${sync.judgeIdle}`);
});
