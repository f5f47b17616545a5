// The TypeScript half of `bench peer`, without torch: the judge's weights out of ONNX, the results
// table, the peer's output parsing, "torch absent", and the in-process trainer both step benches build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import { loadCorpus } from "@grpomesh/data";
import { MaskedTransformer, defaultGeneratorConfig, expectedTensorShapes, initBackend, validateConfig, type ModelConfig } from "@grpomesh/model";
import { exportModelToOnnx } from "@grpomesh/onnx-export";
import { Rng } from "@grpomesh/rng";
import {
  INSTALL_TORCH,
  busyWarning,
  checkpointFromOnnx,
  formatSizeReport,
  goalLine,
  maxAbsDiff,
  parsePeerOutput,
  probeTorch,
  torchMissingMessage,
  type SizeReport,
} from "./peer.ts";
import { benchGrpoConfig, buildInProcessTrainer, corpusBatches, measureSteps } from "./step.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const VOCAB = ["[PAD]", "[MASK]", " ", "a", "b", "c", "d", "e", "f", "g"];

function smallConfig(model_type: ModelConfig["model_type"]): ModelConfig {
  return validateConfig({
    model_type,
    vocab_size: VOCAB.length,
    seq_len: 8,
    n_layer: 2,
    n_head: 2,
    d_model: 8,
    d_ff: 16,
    dropout: 0,
    ln_eps: 1e-5,
    activation: "gelu_tanh",
    vocab: VOCAB,
    mask_token_id: 1,
    pad_token_id: 0,
  });
}

function knownWeights(config: ModelConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    out.set(
      name,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    );
  }
  return out;
}

test("checkpointFromOnnx gives back the config, weights and version a model was exported with", () => {
  for (const type of ["sequence_scorer", "masked_lm"] as const) {
    const config = smallConfig(type);
    const weights = knownWeights(config, 7);
    const back = checkpointFromOnnx(exportModelToOnnx(config, weights, { version: "v-test" }));
    assert.deepEqual(back.config, config);
    assert.equal(back.version, "v-test");
    assert.deepEqual([...back.weights.keys()].sort(), [...weights.keys()].sort());
    for (const [name, data] of weights) assert.deepEqual(back.weights.get(name), data, `${type} ${name}`);
  }
});

test("the bundled judge's extracted weights score like its ONNX file (the names map to the right tensors)", async () => {
  await initBackend(undefined, { log: false });
  const path = join(ROOT, "models/judge/model.onnx");
  const bytes = readFileSync(path);
  const judge = checkpointFromOnnx(bytes, path);
  assert.deepEqual(judge.config, validateConfig(JSON.parse(readFileSync(join(ROOT, "models/judge/config.json"), "utf8"))));
  assert.equal(judge.version, "judge-v1");
  // exporting the extracted weights again and extracting gives the same bits
  const again = checkpointFromOnnx(exportModelToOnnx(judge.config, judge.weights));
  for (const [name, data] of judge.weights) assert.deepEqual(again.weights.get(name), data, name);

  const B = 3,
    T = judge.config.seq_len;
  const rng = new Rng(11);
  const ids = Int32Array.from({ length: B * T }, () => 2 + Math.floor(rng.next() * (judge.config.vocab_size - 2)));
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ tokens: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [B, T]) });
  await session.release();
  const model = new MaskedTransformer(judge.config);
  model.setWeights(judge.weights);
  const scores = model.forwardIds(ids, B, T);
  const ours = (await scores.data()) as Float32Array;
  scores.dispose();
  model.dispose();
  const onnx = Object.values(out)[0]!.data as Float32Array;
  assert.ok(maxAbsDiff(ours, onnx, "scores") < 1e-4, `tfjs ${[...ours]} vs onnxruntime ${[...onnx]}`);
  assert.ok(new Set(onnx).size === B, "the three sequences should score differently");
});

test("checkpointFromOnnx refuses a file without the config metadata or with a missing weight, saying what to do", () => {
  const config = smallConfig("sequence_scorer");
  const bytes = exportModelToOnnx(config, knownWeights(config, 1));
  const model = fromBinary(ModelProtoSchema, bytes);
  const noMeta = create(ModelProtoSchema, { ...model, metadataProps: model.metadataProps.filter((e) => e.key !== "grpomesh.config") });
  assert.throws(
    () => checkpointFromOnnx(toBinary(ModelProtoSchema, noMeta), "x.onnx"),
    /x\.onnx has no "grpomesh\.config" metadata; expected an ONNX file exported by libs\/onnx.*Re-export/,
  );
  model.graph!.initializer = model.graph!.initializer.filter((t) => t.name !== "blocks.1.mlp.fc.bias");
  assert.throws(
    () => checkpointFromOnnx(toBinary(ModelProtoSchema, model), "y.onnx"),
    /y\.onnx does not hold the weights its config describes:\n  - no initializer "blocks\.1\.mlp\.fc\.bias"/,
  );
  assert.throws(() => checkpointFromOnnx(Uint8Array.of(1, 2, 3), "z.onnx"), /z\.onnx is not an ONNX ModelProto/);
});

function report(oursStep: number, repeatStep: number, groupStep: number): SizeReport {
  const phases = (step: number) => ({ sample: step * 0.2, judge: step * 0.2, reference: step * 0.2, advantage: 0.1, update: step * 0.4 - 0.1, step });
  const mode = (step: number, rows: number) => ({
    median_ms: phases(step),
    steps_ms: [step],
    metrics: [],
    forward_rows: { sample: rows, judge: 32, reference: rows, update: rows },
  });
  return {
    size: "default",
    model: "tiny",
    batchSize: 4,
    groupSize: 8,
    warmup: 1,
    steps: 1,
    judge: "bundled",
    ours: { engine: "tfjs wasm", microBatchSize: 0, median_ms: { data: 1, ...phases(oursStep) }, steps_ms: [oursStep] },
    peer: { torch: "1.13", python: "3.11", threads: 2, blas: "libopenblasp", modes: { repeat: mode(repeatStep, 32), group: mode(groupStep, 4) } },
    check: { logitsMaxAbsDiff: 1e-6, scoresMaxAbsDiff: 2e-6 },
    ratios: { repeat: repeatStep / oursStep, group: groupStep / oursStep },
  };
}

test("the size report lists each phase for ours and both peers, the ratios, and whether each goal is met", () => {
  const text = formatSizeReport(report(1000, 8000, 900));
  const lines = text.split("\n");
  assert.match(text, /phase \(median ms\)\s+ours \(in-process\)\s+peer repeat-k\s+peer group\s+repeat\/ours\s+group\/ours/);
  assert.match(
    lines.find((l) => l.startsWith("step"))!,
    /^step\s+1000\s+8000\s+900\s+8\.00×\s+0\.90×$/,
  );
  assert.match(
    lines.find((l) => l.startsWith("update"))!,
    /^update\s+400\s+3200\s+360\s+8\.00×\s+0\.90×$/,
  );
  assert.match(
    lines.find((l) => l.startsWith("data"))!,
    /^data\s+1\s+—\s+—\s*$/,
  );
  assert.match(text, /peer repeat-k \(B·k forwards\) \/ ours: 8\.00× step time \(goal ≥ 8×: met\)/);
  assert.match(text, /peer one-forward-per-group \(B forwards\) \/ ours: 0\.90× step time \(goal ≥ 1×: not met\)/);
  assert.match(text, /sequences per policy forward \(sample, reference, update\): ours 4; peer repeat-k 32; peer group 4; the judge scores 32 everywhere/);
  assert.match(text, /in-process \(no gRPC\), update on the whole batch; peer: PyTorch 1\.13/);
  assert.match(text, /max \|Δ\| logits 1\.00e-6, judge scores 2\.00e-6 \(limit 0\.001\)/);
  const onlyGroup = report(1000, 8000, 1200);
  delete onlyGroup.peer.modes.repeat;
  delete onlyGroup.ratios.repeat;
  const g = formatSizeReport(onlyGroup);
  assert.doesNotMatch(g, /repeat/);
  assert.match(g, /goal ≥ 1×: met/);
  assert.match(goalLine("repeat", NaN), /—.*not measured/);
});

test("parsePeerOutput reads the peer's last line and refuses output without a mode's step time", () => {
  const result = {
    torch: "1.13",
    python: "3.11",
    threads: 2,
    blas: "x",
    modes: { group: { median_ms: { step: 12 }, steps_ms: [12], metrics: [], forward_rows: {} } },
  };
  assert.equal(parsePeerOutput(`noise\n${JSON.stringify(result)}\n`, ["group"]).modes.group!.median_ms.step, 12);
  assert.throws(() => parsePeerOutput(JSON.stringify(result), ["repeat"]), /no step time for mode "repeat"/);
  assert.throws(() => parsePeerOutput("Traceback (most recent call last):", []), /expected one JSON line of results/);
});

test("maxAbsDiff and the busy-machine warning", () => {
  assert.match(busyWarning(1.234), /load average 1\.23 before the bench.*unreliable and mostly favour ours; rerun on an idle machine \(load < 0\.5\)/);
  assert.equal(maxAbsDiff([1, 2, 3], [1, 2.5, 2], "x"), 1);
  assert.equal(maxAbsDiff([1, NaN], [1, 1], "x"), Infinity);
  assert.throws(() => maxAbsDiff([1], [1, 2], "logits"), /logits: ours has 1 values, the peer's 2/);
});

test("without torch the bench prints the apt-get line and exits non-zero, before loading any model", () => {
  const missing = join(tmpdir(), "no-such-dir-grpomesh", "python3");
  const probes = probeTorch([missing]);
  assert.deepEqual(probes, [{ python: missing, problem: "not found" }]);
  assert.match(torchMissingMessage(probes), new RegExp(`\\n    ${INSTALL_TORCH}\\n[\\s\\S]*${missing}: not found`));

  const started = Date.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", "tools/bench/src/main.ts", "peer", `--python=${missing}`], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stderr.includes(`    ${INSTALL_TORCH}\n`), r.stderr);
  assert.match(r.stderr, /not found/);
  assert.equal(r.stdout, "", "nothing should run without torch");
  assert.ok(Date.now() - started < 30_000);
});

test("buildInProcessTrainer and measureSteps run GRPO steps on the bench's batches (what both step benches time)", async () => {
  await initBackend(undefined, { log: false });
  const corpus = loadCorpus();
  const dir = mkdtempSync(join(tmpdir(), "bench-peer-test-"));
  try {
    const arch = { seq_len: 16, n_layer: 1, n_head: 2, d_model: 16, d_ff: 32 };
    const generator = join(dir, "generator");
    const g = new MaskedTransformer(defaultGeneratorConfig(corpus.vocab.tokens, arch), { seed: 3 });
    g.save(generator);
    g.dispose();
    const judgeConfig = { ...defaultGeneratorConfig(corpus.vocab.tokens, arch), model_type: "sequence_scorer" as const };
    const judgeModel = join(dir, "judge.onnx");
    writeFileSync(judgeModel, exportModelToOnnx(judgeConfig, knownWeights(judgeConfig, 4), { version: "tiny" }));
    const config = benchGrpoConfig(2, 3);
    assert.equal(config.batch_size, 2);
    assert.equal(config.group_size, 3);
    assert.equal(config.eval_interval, 0);
    const built = await buildInProcessTrainer({ generator, judgeModel, ...corpusBatches(corpus, config), config, threads: 1 });
    try {
      const records = await measureSteps(built.trainer, 1, 1);
      assert.equal(records.length, 1);
      assert.equal(records[0]!.step, 2, "one warm-up step, then the measured one");
      assert.equal(records[0]!.sequences, 6);
      assert.equal(records[0]!.judge_version, "tiny");
      assert.ok(records[0]!.phases.step_ms > 0 && records[0]!.phases.update_ms > 0);
    } finally {
      await built.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
