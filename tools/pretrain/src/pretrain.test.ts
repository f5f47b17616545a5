import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCheckpoint, MaskedTransformer } from "@grpomesh/model";
import { loadCorpus } from "@grpomesh/data";
import { DEFAULTS, parseArgs, pretrain } from "./pretrain.ts";

const tiny = (out: string) =>
  parseArgs([
    "--seq-len=32",
    "--n-layer=1",
    "--n-head=2",
    "--d-model=16",
    "--d-ff=32",
    "--batch-size=4",
    "--micro-batches=2",
    "--max-steps=4",
    "--warmup-steps=0",
    "--learning-rate=0.01",
    "--eval-interval=2",
    "--eval-batches=2",
    "--eval-batch-size=4",
    "--progress-seconds=1000",
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
  rmSync(root, { recursive: true });
});

test("--max-minutes stops early and still saves", async () => {
  const root = mkdtempSync(join(tmpdir(), "grpomesh-pretrain-"));
  const o = { ...tiny(join(root, "c")), max_minutes: 1e-9, max_steps: 1000 };
  const r = await pretrain(o, () => {});
  assert.equal(r.stoppedBy, "max_minutes");
  assert.ok(r.steps < 1000);
  assert.ok(existsSync(join(root, "c", "model.safetensors")));
  rmSync(root, { recursive: true });
});

test("options: --key=value typed by the defaults, unknown keys refused", () => {
  assert.equal(parseArgs(["--max-steps=7"]).max_steps, 7);
  assert.equal(parseArgs(["--out=x/y"]).out, "x/y");
  assert.equal(parseArgs([]).max_steps, DEFAULTS.max_steps);
  assert.throws(() => parseArgs(["--max-step=7"]), /unknown option --max-step/);
  assert.throws(() => parseArgs(["--max-steps=lots"]), /needs a number/);
  assert.throws(() => parseArgs(["max-steps"]), /is not --key=value/);
});
