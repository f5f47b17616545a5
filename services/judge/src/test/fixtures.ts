// Judge models for the tests, written to a temp model repository: small random-weight scorers from
// the project's exporter, a hand-built int32 model with a dynamic seq_len whose score is the mean
// id (checkable by hand), and models that break the contract or fail their warm-up.
import { createHash } from "node:crypto";
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { randomScorerOnnx, scorerConfig } from "../random-scorer.ts";
import { GraphBuilder, TensorProto_DataType as T } from "@grpomesh/autodiff";
import { Rng } from "@grpomesh/rng";
import { loadSecurity, type Security } from "@grpomesh/rpc";
import type { JudgeServerOptions } from "../judge-server.ts";

export const SEQ_LEN = 16;
export const VOCAB_SIZE = 20;
/** Small enough for fast tests, the same graph as the default judge. */
export const TINY = scorerConfig({ seq_len: SEQ_LEN, n_layer: 2, n_head: 2, d_model: 32, d_ff: 64, vocab_size: VOCAB_SIZE });

export interface Repository {
  root: string;
  /** Writes `bytes` at `rel` inside the repository and returns the absolute path. */
  write(rel: string, bytes: Uint8Array): string;
  /** Writes beside the repository's folders, then renames into `rel`: the file appears complete at once. */
  writeAtomically(rel: string, bytes: Uint8Array): string;
  remove(): void;
}

export function tempRepository(prefix = "judge-test-"): Repository {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return {
    root,
    write(rel, bytes) {
      const path = join(root, rel);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, bytes);
      return path;
    },
    writeAtomically(rel, bytes) {
      const path = join(root, rel);
      const temp = join(root, `.incoming-${process.pid}-${Date.now()}`);
      writeFileSync(temp, bytes);
      mkdirSync(dirname(path), { recursive: true });
      renameSync(temp, path);
      return path;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Resolves once `condition()` holds, checking every 10 ms; rejects after `timeoutMs` saying what it waited for. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A random-weight scorer; weights large enough that different sequences get visibly different scores. */
export function tinyScorer(version: string, seed: number): Uint8Array {
  return randomScorerOnnx(TINY, { seed, std: 0.3, version, name: "tiny-judge" });
}

/** A scorer whose vocabulary is TINY's with ids 4 and 5 swapped: same size, different meaning. */
export function swappedVocabScorer(version: string, seed: number): Uint8Array {
  const vocab = [...TINY.vocab];
  [vocab[4], vocab[5]] = [vocab[5]!, vocab[4]!];
  return randomScorerOnnx(scorerConfig({ ...TINY, vocab }), { seed, std: 0.3, version, name: "tiny-judge" });
}

/** The exporter's generator graph: a valid ONNX model the judge contract refuses (masked_lm). */
export function generatorModel(): Uint8Array {
  const config = scorerConfig({ ...TINY, model_type: "masked_lm" });
  return randomScorerOnnx(config, { seed: 3 });
}

const meta = (vocabSize: number, version: string) => ({
  "grpomesh.model_type": "sequence_scorer",
  "grpomesh.vocab": JSON.stringify(TINY.vocab.slice(0, vocabSize)),
  "grpomesh.version": version,
});

/** int32 ids [batch, seq] (dynamic seq_len) → float32 mean id [batch]. */
export function meanIdModel(version = "mean-1"): Uint8Array {
  const g = new GraphBuilder();
  const tokens = g.input("ids", T.INT32, ["batch", "seq"]);
  const score = g.node("ReduceMean", [g.node("Cast", [tokens], { attrs: { to: T.FLOAT } })], { attrs: { axes: [1], keepdims: 0 } });
  g.output(score, "reward", T.FLOAT, ["batch"]);
  return g.toModel({ metadata: meta(VOCAB_SIZE, version) });
}

/**
 * Declares everything the contract wants but reshapes its ids to [-1, cols]: with cols 7 one
 * sequence of 16 ids cannot run; with cols 8 it returns 2 scores for 1 sequence.
 */
export function failsWarmUpModel(cols = 7): Uint8Array {
  const g = new GraphBuilder();
  const tokens = g.input("tokens", T.INT64, ["batch", SEQ_LEN]);
  const shape = g.constant("shape", [2], BigInt64Array.of(-1n, BigInt(cols)));
  const reshaped = g.node("Reshape", [g.node("Cast", [tokens], { attrs: { to: T.FLOAT } }), shape]);
  const score = g.node("ReduceMean", [reshaped], { attrs: { axes: [1], keepdims: 0 } });
  g.output(score, "score", T.FLOAT, ["batch"]);
  return g.toModel({ metadata: meta(VOCAB_SIZE, "broken-1") });
}

/** Passes the contract (names, types, metadata) but uses an operator onnxruntime does not have. */
export function unknownOpModel(): Uint8Array {
  const g = new GraphBuilder();
  const tokens = g.input("tokens", T.INT64, ["batch", SEQ_LEN]);
  g.output(g.node("NoSuchScorerOp", [tokens]), "score", T.FLOAT, ["batch"]);
  return g.toModel({ metadata: meta(VOCAB_SIZE, "unknown-op-1") });
}

/** The label the judge serves `bytes` under: `<base>+sha256:<12 hex of the file>` (or the digest alone). */
export function label(base: string | null, bytes: Uint8Array): string {
  const hex = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
  return base ? `${base}+sha256:${hex}` : `sha256:${hex}`;
}

/** Seeded token ids in [0, vocabSize). */
export function randomIds(rows: number, seqLen: number, seed: number, vocabSize = VOCAB_SIZE): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: rows * seqLen }, () => rng.nextInt(vocabSize));
}

/** Scores from a plain onnxruntime session on the same bytes: what the service must reproduce. */
export async function directScores(bytes: Uint8Array, ids: Int32Array, rows: number, seqLen: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const input = session.inputMetadata[0]!;
    const type = input.isTensor ? input.type : "int64";
    const data = type === "int64" ? BigInt64Array.from(ids, (v) => BigInt(v)) : ids;
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor(type as "int64" | "int32", data, [rows, seqLen]) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

let adminDir: string | null = null;
/** An admin token file for test judges (one per process) and the client Security that sends it. */
export function testAdmin(): { tokenFile: string; security: Security } {
  if (adminDir === null) {
    adminDir = mkdtempSync(join(tmpdir(), "judge-admin-"));
    writeFileSync(join(adminDir, "admin-token"), "judge-test-admin-token-0123456789\n", { mode: 0o600 });
    const dir = adminDir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  const tokenFile = join(adminDir, "admin-token");
  return { tokenFile, security: loadSecurity({ adminTokenFile: tokenFile }) };
}

/**
 * A judge on a free loopback port, without /metrics, one single-threaded session, over the
 * repository at `root`, taking LoadModel from clients with `testAdmin().security`; `overrides`
 * add the rest (polling, the start model, a log sink).
 */
export function testJudgeOptions(root: string, overrides: JudgeServerOptions = {}): JudgeServerOptions {
  return {
    address: "127.0.0.1:0",
    metrics_port: "off",
    model_repository: root,
    sessions: 1,
    threads: 1,
    admin_token_file: testAdmin().tokenFile,
    ...overrides,
  };
}
