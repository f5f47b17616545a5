import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHECKPOINT_MARKER, CONFIG_FILE, NotACheckpointError, WEIGHTS_FILE, loadCheckpoint, saveCheckpoint, weightsDigest } from "./checkpoint.ts";
import { expectedTensorShapes } from "./config.ts";
import { decodeSafetensors, encodeSafetensors, safeTensor } from "./safetensors.ts";
import { randomizeWeights, tinyConfig } from "./test/fixtures.ts";

const config = tinyConfig();
const weights = randomizeWeights(expectedTensorShapes(config), 3);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "grpomesh-ckpt-"));
}

test("save then load round-trips config, weights (bit-exact), metadata, extra tensors and files", () => {
  const root = tempDir();
  const dir = join(root, "ckpt");
  const digest = saveCheckpoint(dir, {
    config,
    weights,
    metadata: { step: "12" },
    extraTensors: { optimizer: new Map([["m.head.weight", safeTensor(new Float32Array([1, 2]), [2])]]) },
    extraFiles: { "state.json": '{"step":12}' },
  });
  assert.deepEqual(readdirSync(root), ["ckpt"], "temp folders were left behind");
  assert.deepEqual(readdirSync(dir).sort(), [CHECKPOINT_MARKER, CONFIG_FILE, WEIGHTS_FILE, "optimizer.safetensors", "state.json"]);
  const back = loadCheckpoint(dir);
  assert.deepEqual(back.config, config);
  assert.equal(back.digest, digest);
  assert.equal(back.metadata.step, "12");
  for (const [name, data] of weights) assert.deepEqual(back.weights.get(name), data, name);
  assert.deepEqual([...back.extraTensors.optimizer!.get("m.head.weight")!.data], [1, 2]);
  assert.equal(readFileSync(join(dir, "state.json"), "utf8"), '{"step":12}');
  // Overwriting replaces the folder whole (no stale files) and leaves nothing beside it.
  saveCheckpoint(dir, { config, weights });
  assert.deepEqual(readdirSync(dir).sort(), [CHECKPOINT_MARKER, CONFIG_FILE, WEIGHTS_FILE]);
  assert.deepEqual(readdirSync(root), ["ckpt"]);
  rmSync(root, { recursive: true });
});

test("the digest is stable: independent of insertion order, sensitive to any bit", () => {
  const reversed = new Map([...weights.entries()].reverse());
  const shapes = expectedTensorShapes(config);
  assert.equal(weightsDigest(reversed, shapes), weightsDigest(weights, shapes));
  const changed = new Map(weights);
  const copy = Float32Array.from(weights.get("ln_f.bias")!);
  new Uint32Array(copy.buffer)[0]! ^= 1;
  changed.set("ln_f.bias", copy);
  assert.notEqual(weightsDigest(changed, shapes), weightsDigest(weights, shapes));
});

test("loading names missing, unexpected and mis-shaped tensors", () => {
  const dir = join(tempDir(), "bad");
  saveCheckpoint(dir, { config, weights });
  const tensors = new Map([...weights].map(([n, d]) => [n, safeTensor(d, expectedTensorShapes(config).get(n)!)]));
  tensors.delete("blocks.1.mlp.fc.bias");
  tensors.set("blocks.0.attn.qkv.weight", safeTensor(weights.get("blocks.0.attn.qkv.weight")!, [48, 16]));
  tensors.set("lm_head.weight", safeTensor(new Float32Array(2), [2]));
  writeFileSync(join(dir, WEIGHTS_FILE), encodeSafetensors(tensors));
  assert.throws(
    () => loadCheckpoint(dir),
    (e: Error) =>
      /missing "blocks\.1\.mlp\.fc\.bias" \[32\]/.test(e.message) &&
      /"blocks\.0\.attn\.qkv\.weight" has shape \[48,16\]; expected \[16,48\]/.test(e.message) &&
      /unexpected "lm_head\.weight"/.test(e.message),
  );
});

test("loading detects weights that no longer match the stored digest", () => {
  const dir = join(tempDir(), "corrupt");
  saveCheckpoint(dir, { config, weights });
  const file = decodeSafetensors(readFileSync(join(dir, WEIGHTS_FILE)));
  (file.tensors.get("head.bias")!.data as Float32Array)[0]! += 1;
  writeFileSync(join(dir, WEIGHTS_FILE), encodeSafetensors(file.tensors, file.metadata));
  assert.throws(() => loadCheckpoint(dir), /digest .* differs from the stored/);
});

test("refuses an invalid config and a missing folder with clear errors", () => {
  assert.throws(
    () => saveCheckpoint(join(tempDir(), "x"), { config: { ...config, d_model: 15 }, weights }),
    /d_model \(15\) must be divisible by n_head \(2\)/,
  );
  assert.throws(() => loadCheckpoint(join(tempDir(), "nothing-here")), /no config\.json in/);
  assert.throws(() => saveCheckpoint(join(tempDir(), "y"), { config, weights, extraTensors: { "../evil": new Map() } }), /extra tensor file name/);
});

test("a save never replaces what it did not write: a file, a foreign folder, a symbolic link", () => {
  const root = tempDir();
  const file = join(root, "important.txt");
  writeFileSync(file, "keep me");
  const folder = join(root, "photos");
  mkdirSync(folder);
  writeFileSync(join(folder, "a.jpg"), "jpeg");
  const link = join(root, "link");
  symlinkSync(folder, link);
  for (const target of [file, folder, link]) {
    assert.throws(
      () => saveCheckpoint(target, { config, weights }),
      (e: Error) => e instanceof NotACheckpointError && (e as NotACheckpointError).grpcCode === 9 && /nothing was changed/.test(e.message),
    );
  }
  assert.equal(readFileSync(file, "utf8"), "keep me");
  assert.deepEqual(readdirSync(folder), ["a.jpg"]);
  assert.deepEqual(readdirSync(root).sort(), ["important.txt", "link", "photos"], "no temp folders left behind");
  // A folder that merely looks like a checkpoint (config + weights, no marker) is not replaced either.
  const lookalike = join(root, "lookalike");
  saveCheckpoint(lookalike, { config, weights });
  rmSync(join(lookalike, CHECKPOINT_MARKER));
  assert.throws(() => saveCheckpoint(lookalike, { config, weights }), NotACheckpointError);
  rmSync(root, { recursive: true });
});
