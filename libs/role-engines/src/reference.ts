// The reference engine: the frozen initial generator. It serves log p_ref at the sampling
// temperature at masked positions (the exact KL needs the whole distribution) and, when asked,
// the summed log-probs of given completions. It never updates: with tfjs its variables are not
// trainable, so nothing in the process (a policy in the same process included) can move them;
// with onnxruntime it runs forwards only.
import { existsSync, statSync } from "node:fs";
import { MaskedTransformer, maskedLogProbs } from "@grpomesh/model";
import { expectedTensorShapes, loadCheckpoint as readCheckpointFolder, specialTokenIds, weightsDigest, type ModelConfig } from "@grpomesh/model/format";
import { createTrainingBackend, type EngineSelection } from "./backends/choose.ts";
import { TfjsBackend } from "./backends/tfjs.ts";
import type { EngineChoice, ForwardBackend } from "./backends/types.ts";
import type { BatchShape, ReferencePort } from "@grpomesh/loop";
import { failedPrecondition, invalidArgument, notFound, requireGenerator, rethrowAs } from "./errors.ts";
import { completionLogProbsFrom } from "./log-probs.ts";
import { checkCompletionCount, checkCompletionsAgree, checkIds, checkShape, resolveLimits, type EngineLimits, type ModelFacts } from "./validate.ts";
import { vocabularyDifference, type VocabularyView } from "./vocab.ts";
import type { ModelInfo } from "./model-info.ts";

export interface ReferenceEngineOptions {
  limits?: Partial<EngineLimits>;
}

export type ReferenceInfo = ModelInfo;

export interface ReferenceScores {
  /** float32 [B, T, V] log p_ref at masked positions, zeros elsewhere. */
  distributions: Float32Array;
  /** float32 [B, k] Σ over masked positions of log p_ref(completion token), when completions were given. */
  completionLogProbs?: Float32Array;
}

export class ReferenceEngine implements ReferencePort {
  readonly config: ModelConfig;
  readonly limits: EngineLimits;
  /** sha256 of the weights as loaded; they never change afterwards. */
  readonly weightsDigest: string;
  readonly backend: ForwardBackend;
  /** Why this engine was chosen (set by fromCheckpoint; "given" for a model passed in). */
  readonly selection: EngineSelection;
  private readonly facts: ModelFacts;
  private readonly banned: number[];
  private disposed = false;

  /**
   * Serves `model` frozen (a tfjs model's variables stop being trainable). A backend needs its
   * config and the digest of the weights it holds.
   */
  constructor(
    model: MaskedTransformer | ForwardBackend,
    options: ReferenceEngineOptions & { config?: ModelConfig; weightsDigest?: string; selection?: EngineSelection } = {},
  ) {
    const config = model instanceof MaskedTransformer ? model.config : options.config;
    if (!config) throw new Error("ReferenceEngine: a backend needs its model config (options.config)");
    requireGenerator(config, "reference");
    if (model instanceof MaskedTransformer) {
      this.backend = new TfjsBackend(model);
      this.weightsDigest = weightsDigest(model.getWeights(), expectedTensorShapes(config));
    } else {
      if (!options.weightsDigest) throw new Error("ReferenceEngine: a backend needs the digest of its weights (options.weightsDigest)");
      this.backend = model;
      this.weightsDigest = options.weightsDigest;
    }
    // tfjs differentiates every trainable variable in the process: the reference's must not be
    if (this.backend instanceof TfjsBackend) for (const v of this.backend.model.variables.values()) v.trainable = false;
    this.config = config;
    this.selection = options.selection ?? { engine: this.backend.engine, reason: "given" };
    this.limits = resolveLimits(options.limits);
    this.facts = {
      vocabSize: this.config.vocab_size,
      seqLen: this.config.seq_len,
      maskTokenId: this.config.mask_token_id,
      padTokenId: this.config.pad_token_id,
    };
    this.banned = specialTokenIds(this.config);
  }

  /**
   * The reference from a checkpoint folder. With `datasetVocabulary`, a checkpoint whose
   * vocabulary (or mask/pad ids) differs from the dataset's is refused, naming the first difference.
   */
  static async fromCheckpoint(
    dir: string,
    options: ReferenceEngineOptions & {
      backend?: string;
      engine?: EngineChoice;
      executionProvider?: string;
      threads?: number;
      spinning?: boolean;
      datasetVocabulary?: VocabularyView & { source?: string };
    } = {},
  ): Promise<ReferenceEngine> {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw notFound(`checkpoint folder ${dir} does not exist; expected a folder with config.json and model.safetensors (docs/model-format.md)`);
    }
    let ckpt: ReturnType<typeof readCheckpointFolder>;
    try {
      ckpt = readCheckpointFolder(dir);
    } catch (err) {
      rethrowAs(err, failedPrecondition, "cannot load reference checkpoint: ");
    }
    const data = options.datasetVocabulary;
    if (data) {
      const difference = vocabularyDifference(
        { vocab: ckpt.config.vocab, maskTokenId: ckpt.config.mask_token_id, padTokenId: ckpt.config.pad_token_id },
        data,
        { model: `checkpoint ${dir}`, other: `dataset${data.source ? ` ${data.source}` : ""}` },
      );
      if (difference) {
        throw failedPrecondition(
          `the reference checkpoint does not speak the dataset's vocabulary: ${difference}. Use the generator trained on this dataset, or point --dataset_meta at its metadata.`,
        );
      }
    }
    requireGenerator(ckpt.config, "reference"); // before a backend (maybe a worker) starts for nothing
    const { backend, selection } = await createTrainingBackend(ckpt.config, {
      engine: options.engine,
      executionProvider: options.executionProvider,
      tfjsBackend: options.backend,
      threads: options.threads,
      frozen: true,
      spinning: options.spinning,
    });
    try {
      await backend.setWeights(ckpt.weights);
    } catch (err) {
      await backend.dispose();
      throw err;
    }
    return new ReferenceEngine(backend, { ...options, config: ckpt.config, weightsDigest: ckpt.digest, selection });
  }

  async logProbs(inputs: Int32Array, shape: BatchShape, temperature: number): Promise<Float32Array> {
    return (await this.score(inputs, shape, temperature)).distributions;
  }

  /** One forward pass: the distributions and, when `completions` are given, their summed log-probs. */
  async score(
    inputs: Int32Array,
    shape: BatchShape,
    temperature: number,
    completions?: { completions: Int32Array; groupSize: number },
  ): Promise<ReferenceScores> {
    if (this.disposed) throw failedPrecondition("the reference engine was disposed (the server is shutting down); retry against a running reference");
    // Whole windows only: the loop sends [B, seq_len], and shorter ones would give other numbers.
    checkShape(shape, this.facts, this.limits, { exactSeqLen: true });
    const { batch: B, seqLen: T } = shape;
    if (!(typeof temperature === "number" && Number.isFinite(temperature) && temperature > 0)) {
      throw invalidArgument(`temperature is ${temperature}; expected a finite number > 0 (the sampling temperature)`);
    }
    checkIds("inputs", inputs, B * T, this.facts.vocabSize, `[B, T] = [${B}, ${T}]`);
    if (completions) {
      const k = completions.groupSize;
      if (!Number.isSafeInteger(k) || k < 1) throw invalidArgument(`group size is ${k}; expected a positive integer`);
      checkCompletionCount(B, k, this.limits);
      checkIds("completions", completions.completions, B * k * T, this.facts.vocabSize, `[B, k, T] = [${B}, ${k}, ${T}]`);
      checkCompletionsAgree(inputs, completions.completions, { batch: B, groupSize: k, seqLen: T }, this.facts);
    }
    const logits = await this.backend.logits(inputs, B, T);
    const distributions = await maskedLogProbs(logits, inputs, {
      batch: B,
      seqLen: T,
      maskTokenId: this.facts.maskTokenId,
      temperature,
      bannedTokenIds: this.banned,
    });
    if (!completions) return { distributions };
    const completionLogProbs = completionLogProbsFrom(distributions, inputs, completions.completions, {
      batch: B,
      seqLen: T,
      groupSize: completions.groupSize,
      vocabSize: this.facts.vocabSize,
      maskTokenId: this.facts.maskTokenId,
    });
    return { distributions, completionLogProbs };
  }

  /** sha256 of the weights as they are now (equal to `weightsDigest`, which tests check). */
  async currentWeightsDigest(): Promise<string> {
    return weightsDigest(await this.backend.getWeights(), expectedTensorShapes(this.config));
  }

  /** Whether any weight is trainable (never: tfjs variables are frozen, onnxruntime only runs forwards). */
  hasTrainableVariables(): boolean {
    return this.backend instanceof TfjsBackend && [...this.backend.model.variables.values()].some((v) => v.trainable);
  }

  info(): ReferenceInfo {
    return {
      config: this.config,
      backend: this.backend.description,
      engineReason: this.selection.reason,
      placement: this.backend.placement,
      parameterCount: this.backend.parameterCount(),
      weightsDigest: this.weightsDigest,
    };
  }

  async close(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.backend.dispose();
  }

  /** close() without waiting. */
  dispose(): void {
    void this.close().catch(() => {});
  }
}
