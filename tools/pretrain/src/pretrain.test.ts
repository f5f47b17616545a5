import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCheckpoint, MaskedTransformer } from "@grpomesh/model";
import { loadCorpus } from "@grpomesh/data";
import { parseSettings } from "@grpomesh/config";
import { pretrain } from "./pretrain.ts";
import { PRETRAIN_SETTINGS, pretrainRelations } from "./settings.ts";

const parseArgs = (argv: string[]) => parseSettings(PRETRAIN_SETTINGS, { argv, check: pretrainRelations }).config;

const tiny = (out: string) =>
  parseArgs([
    "--task=kjv",
    "--seq_len=32",
    "--n_layer=1",
    "--n_head=2",
    "--d_model=16",
    "--d_ff=32",
    "--batch_size=4",
    "--micro_batches=2",
    "--max_steps=4",
    "--warmup_steps=0",
    "--learning_rate=0.01",
    "--eval_interval=2",
    "--eval_batches=2",
    "--eval_batch_size=4",
    "--progress_seconds=1000",
    "--backend=wasm",
    `--out=${out}`,
  ]);

test("a 4-step run on a tiny config lowers the held-out loss and writes a loadable, reproducible checkpoint", async () => {
  const root = mkdtempSync(join(tmpdir(), "grpomesh-pretrain-"));
  const lines: string[] = [];
  const a = await pretrain(tiny(join(root, "a")), (l) => lines.push(l));
  assert.equal(a.steps, 4);
  assert.ok(a.after.loss < a.before.loss, `held-out loss ${a.before.loss} → ${a.after.loss}`);
  assert.deepEqual(
    a.history.map((h) => h.step),
    [0, 2, 4],
  );
  assert.ok(
    lines.some((l) => /^step 4\/4 loss .* tok\/s .* ETA/.test(l)),
    lines.join("\n"),
  );
  const ckpt = loadCheckpoint(join(root, "a"));
  assert.equal(ckpt.digest, a.digest);
  assert.deepEqual(ckpt.config.vocab, [...loadCorpus().vocab.tokens]);
  assert.equal(ckpt.config.d_model, 16);
  const model = MaskedTransformer.fromCheckpoint(join(root, "a"));
  model.dispose();
  const summary = JSON.parse(readFileSync(join(root, "a", "pretrain.json"), "utf8"));
  assert.equal(summary.steps, 4);
  // Same options, same seed: the same weights.
  const b = await pretrain(tiny(join(root, "b")), () => {});
  assert.equal(b.digest, a.digest);
  // --init continues from a checkpoint: it starts where that one ended, in its architecture.
  const c = await pretrain({ ...tiny(join(root, "c")), init: join(root, "a"), d_model: 8, max_steps: 1 }, () => {});
  assert.equal(c.before.loss, a.after.loss);
  assert.equal(loadCheckpoint(join(root, "c")).config.d_model, 16);
  await assert.rejects(
    pretrain({ ...tiny(join(root, "d")), task: "sudoku", init: join(root, "a") }, () => {}),
    /does not speak task sudoku's vocabulary/,
  );
  rmSync(root, { recursive: true });
});

test("max_minutes stops early and still saves", async () => {
  const root = mkdtempSync(join(tmpdir(), "grpomesh-pretrain-"));
  const o = { ...tiny(join(root, "c")), max_minutes: 1e-9, max_steps: 1000 };
  const r = await pretrain(o, () => {});
  assert.equal(r.stoppedBy, "max_minutes");
  assert.ok(r.steps < 1000);
  assert.ok(existsSync(join(root, "c", "model.safetensors")));
  rmSync(root, { recursive: true });
});

test("settings: --key=value checked against the table (dashes accepted), unknown keys refused with the nearest", () => {
  assert.equal(parseArgs(["--max-steps=7"]).max_steps, 7);
  assert.equal(parseArgs(["--out=x/y"]).out, "x/y");
  assert.equal(parseArgs([]).max_steps, PRETRAIN_SETTINGS.max_steps.default);
  assert.throws(() => parseArgs(["--max_step=7"]), /unknown option --max_step; did you mean --max_steps\?/);
  assert.throws(() => parseArgs(["--max_steps=lots"]), /option --max_steps is "lots"; expected an integer ≥ 1/);
  assert.throws(() => parseArgs(["max_steps=3"]), /looks like an option without its dashes/);
  assert.throws(() => parseArgs(["--batch_size=6", "--micro_batches=4"]), /batch_size 6 is not a multiple of micro_batches 4/);
  assert.throws(
    () => parseArgs(['--masking={"kind":"random","ratio":[0.5,0.1]}']),
    /expected a JSON masking spec \(masking.ratio is \[0.5,0.1\]; expected \[lo, hi\]/,
  );
  assert.throws(() => parseArgs(["--masking={kind"]), /expected a JSON masking spec \(/);
});
