// The repository poller (Triton's poll mode) against a real judge: the highest complete version
// wins, a half-written file is never loaded, a refused file is logged once and skipped until it
// changes, and health stays SERVING through every switch.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DataType, JudgeService } from "@grpomesh/proto";
import { checkHealth, createClient } from "@grpomesh/rpc";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import { startJudgeServer, type JudgeServer, type JudgeServerOptions } from "./judge-server.ts";
import {
  directScores,
  generatorModel,
  label,
  randomIds,
  SEQ_LEN,
  swappedVocabScorer,
  tempRepository,
  testJudgeOptions,
  tinyScorer,
  waitFor,
} from "./test/fixtures.ts";

const modelA = tinyScorer("a1", 1);
const modelB = tinyScorer("b2", 2);
const modelC = tinyScorer("c3", 3);
const [A1, B2, C3] = [label("a1", modelA), label("b2", modelB), label("c3", modelC)];
const repos: Array<{ remove(): void }> = [];
after(() => repos.forEach((r) => r.remove()));

/** A judge over a fresh repository holding `files`; what the poller logs goes to `lines`. */
async function judgeOver(files: Record<string, Uint8Array>, overrides: JudgeServerOptions) {
  const repo = tempRepository();
  repos.push(repo);
  for (const [rel, bytes] of Object.entries(files)) repo.write(rel, bytes);
  const lines: string[] = [];
  const judge = await startJudgeServer(testJudgeOptions(repo.root, { ...overrides, log: (l) => lines.push(l) }));
  return { repo, judge, lines };
}

/** judge_model_load_total by result. */
async function loads(judge: JudgeServer): Promise<{ success: number; failure: number }> {
  const values = (await judge.registry.getSingleMetric("judge_model_load_total")!.get()).values;
  const of = (result: string) => values.find((v) => v.labels.result === result)?.value ?? 0;
  return { success: of("success"), failure: of("failure") };
}

test("polls: a half-written version is never loaded, a broken one is refused once, removal and fixes are followed", async () => {
  // A poll interval longer than the test: every poll after the first one at start is driven by hand.
  const { repo, judge, lines } = await judgeOver({ "judge/1/model.onnx": modelA }, { repository_poll_ms: 3_600_000 });
  const client = createClient(JudgeService, judge.address, { deadlineMs: 10_000 });
  const poll = () => judge.repository!.poll();
  const version = () => judge.slot.current?.version ?? null;
  try {
    assert.equal(await checkHealth(judge.address), "NOT_SERVING", "v1 was seen once at start: not yet known to be complete");
    await poll();
    assert.equal(version(), A1);
    assert.equal(await checkHealth(judge.address), "SERVING");
    assert.match(lines.join("\n"), /repository: serving judge\/1\/model\.onnx version=a1\+sha256:[0-9a-f]{12} previous=- load_ms=\d+/);

    const half = Math.floor(modelB.length / 2);
    const v2 = repo.write("judge/2/model.onnx", modelB.subarray(0, half));
    await poll();
    assert.equal(version(), A1);
    appendFileSync(v2, modelB.subarray(half));
    await poll();
    assert.equal(version(), A1, "the file changed since the last poll: not complete yet");
    assert.deepEqual(await loads(judge), { success: 1, failure: 0 }, "the half-written file was never tried");
    await poll();
    assert.equal(version(), B2);
    const ids = randomIds(3, SEQ_LEN, 9);
    const res = await client.score({ tokens: encodeTensor(ids, [3, SEQ_LEN]) });
    assert.equal(res.modelVersion, B2);
    assert.deepEqual([...decodeTensor(res.scores, { name: "scores", dtype: DataType.FLOAT32 }).values], [...(await directScores(modelB, ids, 3, SEQ_LEN))]);

    repo.write("judge/3/model.onnx", generatorModel());
    await poll();
    await poll();
    await poll();
    await poll();
    assert.equal(version(), B2, "a refused version leaves the old model serving");
    assert.deepEqual(await loads(judge), { success: 2, failure: 1 }, "refused once, not retried while unchanged");
    const refusals = lines.filter((l) => l.includes("judge/3/model.onnx refused"));
    assert.equal(refusals.length, 1, lines.join("\n"));
    assert.match(refusals[0]!, /refused, the current model keeps serving: .*output "logits" has shape/);
    assert.equal(await checkHealth(judge.address), "SERVING");

    rmSync(join(repo.root, "judge/3"), { recursive: true });
    await poll();
    await poll();
    assert.equal(version(), B2);
    assert.deepEqual(await loads(judge), { success: 2, failure: 1 }, "removing the refused version changes nothing");

    repo.writeAtomically("judge/3/model.onnx", modelC);
    await poll();
    await poll();
    assert.equal(version(), C3, "a fixed file is tried again");

    // The served version removed: the highest complete one left takes over.
    rmSync(join(repo.root, "judge/3"), { recursive: true });
    await poll();
    assert.equal(version(), B2);
    assert.deepEqual(await loads(judge), { success: 4, failure: 1 });
    // An emptied repository keeps the current model.
    rmSync(join(repo.root, "judge"), { recursive: true });
    await poll();
    assert.equal(version(), B2);
    assert.match(lines.at(-1)!, /has no <name>\/<version>\/model\.onnx yet; waiting/);
  } finally {
    client.close();
    await judge.shutdown();
  }
});

test("a start model that is the highest version is not loaded twice; LoadModel stands until the repository changes", async () => {
  const { repo, judge, lines } = await judgeOver(
    { "judge/1/model.onnx": modelA, "judge/2/model.onnx": modelB, "other/model.onnx": modelC },
    { model: "judge/2/model.onnx", repository_poll_ms: 3_600_000 },
  );
  try {
    await judge.repository!.poll();
    await judge.repository!.poll();
    assert.equal(judge.slot.current?.version, B2);
    assert.deepEqual(await loads(judge), { success: 1, failure: 0 });
    await judge.loadModel("other/model.onnx");
    await judge.repository!.poll();
    assert.equal(judge.slot.current?.version, C3, "an operator's LoadModel is not undone while the repository is unchanged");
    repo.writeAtomically("judge/3/model.onnx", modelA);
    await judge.repository!.poll();
    await judge.repository!.poll();
    assert.equal(judge.slot.current?.path, join(realpathSync(repo.root), "judge/3/model.onnx"), "a new highest version is served");
    assert.equal(lines.filter((l) => l.startsWith("repository: serving")).length, 1, lines.join("\n"));
  } finally {
    await judge.shutdown();
  }
});

test("with a real poll interval the judge starts without --model, serves v1, then switches to v2", async () => {
  const { repo, judge, lines } = await judgeOver({ "judge/1/model.onnx": modelA }, { repository_poll_ms: 40 });
  try {
    await waitFor("v1 to be served", () => judge.slot.current?.version === A1);
    repo.writeAtomically("judge/2/model.onnx", modelB);
    await waitFor("v2 to be served", () => judge.slot.current?.version === B2);
    assert.equal(await checkHealth(judge.address, "grpomesh.v1.JudgeService"), "SERVING");
    assert.deepEqual(await loads(judge), { success: 2, failure: 0 });
  } finally {
    await judge.shutdown();
  }
  assert.deepEqual(
    lines.filter((l) => /^repository: serving/.test(l)).map((l) => /judge\/\d/.exec(l)?.[0]),
    ["judge/1", "judge/2"],
  );
});

test("the poller refuses a version whose vocabulary differs from the served model's; the old one keeps serving", async () => {
  const { repo, judge, lines } = await judgeOver({ "judge/1/model.onnx": modelA }, { model: "judge/1/model.onnx", repository_poll_ms: 3_600_000 });
  try {
    repo.writeAtomically("judge/2/model.onnx", swappedVocabScorer("a2", 4));
    await judge.repository!.poll();
    await judge.repository!.poll();
    await judge.repository!.poll();
    assert.equal(judge.slot.current?.version, A1, "ids would change meaning: the old model keeps serving");
    const refusals = lines.filter((l) => l.includes("judge/2/model.onnx refused"));
    assert.equal(refusals.length, 1, lines.join("\n"));
    assert.match(
      refusals[0]!,
      /refused, the current model keeps serving: token id 4 is "#" in the judge model .*judge\/2\/model\.onnx \(tiny-judge a2\+sha256:[0-9a-f]{12}\) but "\\"" in the model it would replace \(tiny-judge a1\+sha256:[0-9a-f]{12}\); use a judge trained on this corpus/,
    );
    const refused = (await judge.registry.getSingleMetric("judge_model_vocabulary_refusals_total")!.get()).values[0]?.value;
    assert.equal(refused, 1);
    assert.deepEqual(await loads(judge), { success: 1, failure: 1 });
    // A version with the served vocabulary is still taken.
    repo.writeAtomically("judge/3/model.onnx", modelB);
    await judge.repository!.poll();
    await judge.repository!.poll();
    assert.equal(judge.slot.current?.version, B2);
    // An operator's LoadModel may change the vocabulary on purpose (the orchestrator checks it against the dataset).
    await judge.loadModel("judge/2/model.onnx");
    assert.match(judge.slot.current!.version, /^a2\+sha256:/);
  } finally {
    await judge.shutdown();
  }
});
