// The loop's recovery: a resume falls back past checkpoints that do not verify (saying which and
// why), cuts the log back so each step counts once, never replaces a folder it did not write, and
// a pause answers with the step the loop stopped at.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrpoTrainer, type TrainerHooks } from "./trainer.ts";
import { chooseCheckpoint, readLog, summarizeLog } from "./run-dir.ts";
import { TINY_MASK, tinyConfig, tinyPorts } from "./testing.ts";

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempRun(): { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "loop-run-"));
  made.push(dir);
  return { dir };
}

/** A trainer over fresh tiny ports with its run directory at `runDir`. */
function trainerIn(runDir: string, overrides = {}, opts: { judgeDelayMs?: number; hooks?: TrainerHooks } = {}) {
  const ports = tinyPorts(opts);
  const trainer = new GrpoTrainer(ports, tinyConfig(overrides), { runDir, maskTokenId: TINY_MASK, hooks: opts.hooks });
  return { ports, trainer };
}

const steps = (runDir: string) =>
  readLog(join(runDir, "log.jsonl"))
    .records.filter((r) => r.type === "step")
    .map((r) => r.step);

async function unbrokenDigest(overrides = {}): Promise<string> {
  const run = tempRun();
  const { ports, trainer } = trainerIn(run.dir, overrides);
  trainer.begin();
  await trainer.run();
  return (await ports.policy.state()).weightsDigest;
}

test("a corrupt latest checkpoint: resume falls back to the newest that verifies, says why, and ends as an unbroken run", async () => {
  const run = tempRun();
  const a = trainerIn(run.dir);
  a.trainer.begin();
  for (let i = 0; i < 6; i++) {
    await a.trainer.trainStep();
    if (a.trainer.step % 2 === 0) await a.trainer.checkpoint();
  }
  await a.trainer.trainStep(); // step 7 is in the log but in no checkpoint
  const weights = join(run.dir, "checkpoints", "step-000006", "policy", "weights.bin");
  const bytes = readFileSync(weights);
  bytes[0]! ^= 0xff;
  writeFileSync(weights, bytes);

  const b = trainerIn(run.dir);
  const r = await b.trainer.resumeFromCheckpoint();
  assert.equal(r.step, 4);
  assert.equal(r.skipped.length, 1);
  assert.equal(r.skipped[0]!.checkpoint, "step-000006");
  assert.match(r.skipped[0]!.reason, /weights\.bin has sha256 .*; the checkpoint recorded/);
  // The skipped folder is kept, moved aside, and the step-6 name is free for the redone step.
  assert.ok(!existsSync(join(run.dir, "checkpoints", "step-000006")));
  assert.equal(readdirSync(join(run.dir, "checkpoints", "set-aside")).filter((n) => n.startsWith("step-000006-")).length, 1);
  // The log is cut back to step 4: steps 5-7 moved to log.superseded.jsonl, and a resume record says so.
  assert.deepEqual(steps(run.dir), [1, 2, 3, 4]);
  assert.deepEqual(
    readLog(join(run.dir, "log.superseded.jsonl"))
      .records.filter((x) => x.type === "step")
      .map((x) => x.step),
    [5, 6, 7],
  );
  const resume = readLog(join(run.dir, "log.jsonl")).records.find((x) => x.type === "resume")!;
  assert.equal(resume.step, 4);
  assert.match(String(resume.from_checkpoint), /step-000004$/);
  assert.equal((resume.skipped as Array<{ checkpoint: string }>)[0]!.checkpoint, "step-000006");

  await b.trainer.run();
  assert.deepEqual(steps(run.dir), [1, 2, 3, 4, 5, 6], "every step once");
  assert.equal((await b.ports.policy.state()).weightsDigest, await unbrokenDigest());
});

test("latest.json naming a missing folder, or truncated, and a truncated orchestrator.json: the newest valid checkpoint is used", async () => {
  const run = tempRun();
  const a = trainerIn(run.dir);
  a.trainer.begin();
  for (let i = 0; i < 4; i++) {
    await a.trainer.trainStep();
    if (a.trainer.step % 2 === 0) await a.trainer.checkpoint();
  }
  const ckpts = join(run.dir, "checkpoints");
  writeFileSync(join(ckpts, "latest.json"), JSON.stringify({ checkpoint: "step-000009", step: 9 }));
  let choice = chooseCheckpoint(run.dir);
  assert.equal(choice.chosen?.step, 4);
  assert.match(choice.skipped[0]!.reason, /named by .*latest\.json, but .*step-000009 does not exist/);

  writeFileSync(join(ckpts, "latest.json"), '{"checkpoint": "step-0');
  choice = chooseCheckpoint(run.dir);
  assert.equal(choice.chosen?.step, 4);
  assert.match(choice.notes[0]!, /latest\.json is not valid JSON/);

  const state = join(ckpts, "step-000004", "orchestrator.json");
  writeFileSync(state, readFileSync(state, "utf8").slice(0, 40));
  choice = chooseCheckpoint(run.dir);
  assert.equal(choice.chosen?.step, 2);
  assert.match(choice.skipped.find((s) => s.checkpoint === "step-000004")!.reason, /step-000004\/orchestrator\.json is not valid JSON .*truncated or corrupt/);
});

test("when checkpoints exist but none verifies, resume fails naming each and changes nothing", async () => {
  const run = tempRun();
  const a = trainerIn(run.dir);
  a.trainer.begin();
  for (let i = 0; i < 2; i++) await a.trainer.trainStep();
  await a.trainer.checkpoint();
  unlinkSync(join(run.dir, "checkpoints", "step-000002", "policy", "state.json"));
  const logBefore = readFileSync(join(run.dir, "log.jsonl"), "utf8");
  const b = trainerIn(run.dir);
  await assert.rejects(b.trainer.resumeFromCheckpoint(), /no checkpoint in .* verifies.*\n  step-000002: .*state\.json is missing/s);
  assert.equal(readFileSync(join(run.dir, "log.jsonl"), "utf8"), logBefore);
  assert.equal(b.trainer.step, 0);
});

test("checkpoint() never replaces a folder it did not write; asked twice at one step it keeps the first", async () => {
  const run = tempRun();
  const a = trainerIn(run.dir);
  a.trainer.begin();
  await a.trainer.trainStep();
  const dir = await a.trainer.checkpoint();
  const written = readFileSync(join(dir, "orchestrator.json"), "utf8");
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(await a.trainer.checkpoint(), dir);
  assert.equal(readFileSync(join(dir, "orchestrator.json"), "utf8"), written);

  const foreign = join(run.dir, "checkpoints", "step-000002");
  mkdirSync(foreign);
  writeFileSync(join(foreign, "keep.txt"), "someone else's");
  await a.trainer.trainStep();
  await assert.rejects(a.trainer.checkpoint(), /step-000002 already exists and this run did not write it; nothing was overwritten/);
  assert.deepEqual(readdirSync(foreign), ["keep.txt"]);
  assert.equal(readFileSync(join(foreign, "keep.txt"), "utf8"), "someone else's");
});

test("the first evaluation survives a resume; wall time adds up over segments; each step is logged once", async () => {
  const run = tempRun();
  const abort = new AbortController();
  const a = trainerIn(run.dir, { max_iters: 6, eval_interval: 2 }, { hooks: { onStep: (r) => void (r.step === 3 && abort.abort()) } });
  a.trainer.begin();
  await a.trainer.run(abort.signal); // stops after step 3 (checkpoint at 3 on the way out)
  const firstSegment = readLog(join(run.dir, "log.jsonl")).records.find((r) => r.type === "end")!;
  assert.equal(firstSegment.reason, "stopped");

  const b = trainerIn(run.dir, { max_iters: 6, eval_interval: 2 });
  await b.trainer.resumeFromCheckpoint();
  const out = await b.trainer.run();
  assert.equal(out.first.step, 0, "before = the run's first evaluation, not the resume point");
  const records = readLog(join(run.dir, "log.jsonl")).records;
  const s = summarizeLog(records);
  assert.deepEqual([s.steps, s.step_records, s.segments], [6, 6, 2]);
  assert.equal(s.first_eval!.step, 0);
  assert.equal(records.filter((r) => r.type === "eval" && r.step === 3).length, 1, "no second evaluation at the resume point");
  const ends = records.filter((r) => r.type === "end");
  assert.equal(ends.length, 2);
  assert.ok((ends[1]!.total_wall_s as number) >= (firstSegment.wall_s as number) + (ends[1]!.wall_s as number) - 1e-9);
});

test("Pause answers with the step the loop stopped at, once it has stopped (not the one before a step in flight)", async () => {
  const run = tempRun();
  const a = trainerIn(run.dir, { max_iters: 50, checkpoint_interval: 0 }, { judgeDelayMs: 40 });
  a.trainer.begin();
  const abort = new AbortController();
  const running = a.trainer.run(abort.signal);
  while (a.trainer.step < 2) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 15)); // inside step 3's judge call
  const paused = await a.trainer.pause();
  assert.ok(a.trainer.isParked);
  assert.equal(paused, a.trainer.step);
  assert.equal(steps(run.dir).at(-1), paused, "the answer is the last step applied");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(a.trainer.step, paused, "no step while paused");
  a.trainer.resume();
  while (a.trainer.step < paused + 2) await new Promise((r) => setTimeout(r, 5));
  assert.ok(!a.trainer.isParked);
  abort.abort();
  await running;
});

test("a burst of between-step actions on a paused loop: each runs at once, none waits for a later wake-up", async () => {
  const run = tempRun();
  const a = trainerIn(run.dir, { max_iters: 500, checkpoint_interval: 0 }, { judgeDelayMs: 10 });
  a.trainer.begin();
  const abort = new AbortController();
  const running = a.trainer.run(abort.signal);
  while (a.trainer.step < 1) await new Promise((r) => setTimeout(r, 5));
  await a.trainer.pause();
  const slowAction = (i: number) => () => new Promise<number>((r) => setTimeout(() => r(i), 30));
  const t0 = Date.now();
  // As concurrent SwapJudge calls do: the later ones arrive while the first one runs.
  const first = a.trainer.atNextBoundary(slowAction(0));
  await new Promise((r) => setTimeout(r, 10));
  const done = await Promise.all([first, ...[1, 2, 3].map((i) => a.trainer.atNextBoundary(slowAction(i)))]);
  assert.deepEqual(done, [0, 1, 2, 3]);
  assert.ok(Date.now() - t0 < 2_000, `4 actions of 30 ms took ${Date.now() - t0} ms`);
  assert.ok(a.trainer.isParked, "still paused after the actions");
  abort.abort();
  await running;
});

test("waking a paused loop many times leaves no abort listeners behind", async () => {
  const run = tempRun();
  const a = trainerIn(run.dir, { max_iters: 500, checkpoint_interval: 0 }, { judgeDelayMs: 10 });
  a.trainer.begin();
  const abort = new AbortController();
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on("warning", onWarning);
  const running = a.trainer.run(abort.signal);
  while (a.trainer.step < 1) await new Promise((r) => setTimeout(r, 5));
  await a.trainer.pause();
  for (let i = 0; i < 30; i++) await a.trainer.atNextBoundary(async () => i);
  abort.abort();
  await running;
  await new Promise((r) => setImmediate(r));
  process.off("warning", onWarning);
  assert.ok(!warnings.includes("MaxListenersExceededWarning"), warnings.join(", "));
});

test("a step's lines come in one order, the last step's too: step, samples, evaluation, checkpoint", async () => {
  const run = tempRun();
  const events: string[] = [];
  const hooks: TrainerHooks = {
    onStep: (r) => events.push(`step ${r.step}`),
    onSamples: (step) => events.push(`samples ${step}`),
    onEval: (r) => events.push(`eval ${r.step}`),
    onCheckpoint: (_dir, step) => events.push(`checkpoint ${step}`),
  };
  const trainer = new GrpoTrainer(tinyPorts(), tinyConfig({ max_iters: 4, eval_interval: 2, checkpoint_interval: 2, sample_interval: 2 }), {
    runDir: run.dir,
    maskTokenId: TINY_MASK,
    hooks,
    decode: (ids) => Array.from(ids).join(","),
  });
  trainer.begin();
  await trainer.run();
  assert.deepEqual(events, [
    "eval 0",
    "checkpoint 0",
    "step 1",
    "step 2",
    "samples 2",
    "eval 2",
    "checkpoint 2",
    "step 3",
    "step 4",
    "samples 4",
    "eval 4",
    "checkpoint 4",
  ]);
  // samples reach the log too (the run report's samples table)
  assert.deepEqual(
    readLog(join(run.dir, "log.jsonl"))
      .records.filter((r) => r.type === "samples")
      .map((r) => r.step),
    [2, 4],
  );
});
