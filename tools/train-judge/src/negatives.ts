// Negatives for the judge: the same windows as the positives, with their masked positions filled
// by the pretrained generator (one forward pass, sampled at temperature τ with @grpomesh/model's
// sampleFillIns) or, for a share, by uniformly random characters. The generator runs in
// onnxruntime (exported with @grpomesh/onnx-export): about 5× faster than tfjs-wasm for a forward pass.
import * as ort from "onnxruntime-node";
import { sampleFillIns } from "@grpomesh/model";
import type { ModelConfig, Weights } from "@grpomesh/model";
import { exportModelToOnnx } from "@grpomesh/onnx-export";
import { mixSeeds, Rng } from "@grpomesh/rng";

export type NegativeKind = "generator" | "random";

export interface Negatives {
  /** [B·T] the windows with masked positions filled. */
  ids: Int32Array;
  /** [B] how each window was filled. */
  kinds: NegativeKind[];
  /** [B] 1 where the fill reproduced the original window exactly (not a negative at all). */
  identical: Uint8Array;
}

/** The generator as an onnxruntime session, plus what sampling needs from its config. */
export class OnnxGenerator {
  private constructor(
    readonly config: ModelConfig,
    private readonly session: ort.InferenceSession,
  ) {}

  static async create(config: ModelConfig, weights: Weights, threads = 1): Promise<OnnxGenerator> {
    if (config.model_type !== "masked_lm") throw new Error(`the generator must be a masked_lm; got a ${config.model_type} (check --generator)`);
    const bytes = exportModelToOnnx(config, weights);
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
    return new OnnxGenerator(config, session);
  }

  /** Logits [B·T·V] for ids [B·T]. */
  async logits(ids: Int32Array, batch: number): Promise<Float32Array> {
    const T = this.config.seq_len;
    const tokens = new ort.Tensor(
      "int64",
      BigInt64Array.from(ids, (v) => BigInt(v)),
      [batch, T],
    );
    const out = await this.session.run({ tokens });
    return out.logits!.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export interface NegativeOptions {
  /** [B·T] windows with [MASK] at the masked positions. */
  inputs: Int32Array;
  /** [B·T] the original windows. */
  targets: Int32Array;
  batch: number;
  seqLen: number;
  maskTokenId: number;
  /** Ids never sampled ([MASK], [PAD]). */
  specialIds: readonly number[];
  vocabSize: number;
  /** Share of windows filled with random characters instead of the generator, in [0, 1]. */
  randomShare: number;
  temperature: number;
  topP: number;
  /** Everything random here derives from this seed. */
  seed: number;
}

/** Fills every masked position of each window; deterministic in (options, generator weights). */
export async function makeNegatives(generator: OnnxGenerator | null, o: NegativeOptions): Promise<Negatives> {
  const { batch: B, seqLen: T, maskTokenId } = o;
  if (o.inputs.length !== B * T || o.targets.length !== B * T)
    throw new Error(`inputs and targets must hold batch ${B} × seqLen ${T} ids; got ${o.inputs.length} and ${o.targets.length}`);
  if (!(o.randomShare >= 0 && o.randomShare <= 1)) throw new Error(`randomShare is ${o.randomShare}; expected a number in [0, 1]`);
  const rng = new Rng(mixSeeds(o.seed, "negative-kinds"));
  const kinds: NegativeKind[] = Array.from({ length: B }, () => (rng.next() < o.randomShare ? "random" : "generator"));
  if (!generator && kinds.includes("generator"))
    throw new Error("generator negatives were asked for but no generator was given; pass one or set randomShare to 1");
  const ids = o.inputs.slice();

  const special = new Set(o.specialIds);
  const characters = Array.from({ length: o.vocabSize }, (_, v) => v).filter((v) => !special.has(v));
  const randomRng = new Rng(mixSeeds(o.seed, "random-fill"));
  for (let b = 0; b < B; b++) {
    if (kinds[b] !== "random") continue;
    for (let t = b * T; t < (b + 1) * T; t++) if (ids[t] === maskTokenId) ids[t] = characters[randomRng.nextInt(characters.length)]!;
  }

  const genRows = kinds.flatMap((k, b) => (k === "generator" ? [b] : []));
  if (genRows.length) {
    const inputs = new Int32Array(genRows.length * T);
    genRows.forEach((b, i) => inputs.set(o.inputs.subarray(b * T, (b + 1) * T), i * T));
    const logits = await generator!.logits(inputs, genRows.length);
    const fills = await sampleFillIns(logits, inputs, {
      batch: genRows.length,
      seqLen: T,
      maskTokenId,
      groupSize: 1,
      temperature: o.temperature,
      topP: o.topP,
      seed: mixSeeds(o.seed, "generator-fill"),
      inputSeeds: genRows.map((b) => mixSeeds(o.seed, "generator-fill", b)),
      bannedTokenIds: o.specialIds,
    });
    genRows.forEach((b, i) => ids.set(fills.completions.subarray(i * T, (i + 1) * T), b * T));
  }

  const identical = new Uint8Array(B);
  for (let b = 0; b < B; b++) {
    let same = 1;
    for (let t = b * T; t < (b + 1) * T && same; t++) if (ids[t] !== o.targets[t]) same = 0;
    identical[b] = same;
  }
  return { ids, kinds, identical };
}
