// The tfjs engine behind the backend seam: MaskedTransformer + libs/grpo's differentiable loss +
// libs/model's AdamW. Runs on whatever tfjs backend initBackend chose (node-gpu, node, wasm, cpu).
import * as tf from "@tensorflow/tfjs-core";
import { AdamW, MaskedTransformer, logSoftmaxWithTemperature, specialTokenIds } from "@grpomesh/model";
import type { AdamWSettings, AdamWState, Weights } from "@grpomesh/model/format";
import { grpoLossAndGrads } from "@grpomesh/grpo";
import type { LossInputs, LossOptions, LossValues } from "@grpomesh/grpo/loss";
import type { TrainingBackend } from "./types.ts";

export class TfjsBackend implements TrainingBackend {
  readonly engine = "tfjs" as const;
  private readonly banned: number[];
  private readonly varList: tf.Variable[];
  private readonly nameOfVariable = new Map<string, string>();
  private optimizer: AdamW | null = null;
  private settings: { beta1: number; beta2: number; eps: number; weightDecay: number } | null = null;

  constructor(readonly model: MaskedTransformer) {
    this.banned = specialTokenIds(model.config);
    this.varList = [...model.variables.values()];
    for (const [name, variable] of model.variables) this.nameOfVariable.set(variable.name, name);
  }

  get description(): string {
    return `tfjs ${tf.getBackend()}`;
  }

  async logits(ids: Int32Array, batch: number, seqLen: number): Promise<Float32Array> {
    const out = this.model.forwardIds(ids, batch, seqLen);
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  }

  async lossAndGrads(
    ids: Int32Array,
    inputs: LossInputs,
    options: LossOptions,
    temperature: number,
  ): Promise<{ values: LossValues; grads: Map<string, Float32Array> }> {
    const idsTensor = tf.tensor2d(ids, [inputs.batchSize, inputs.seqLen], "int32");
    let result: { grads: tf.NamedTensorMap; values: LossValues };
    try {
      const computeLogp = () => logSoftmaxWithTemperature(this.model.forward(idsTensor), temperature, this.banned) as tf.Tensor3D;
      result = grpoLossAndGrads(computeLogp, inputs, options, this.varList);
    } finally {
      idsTensor.dispose();
    }
    const grads = new Map<string, Float32Array>();
    try {
      for (const [tfName, g] of Object.entries(result.grads)) grads.set(this.nameOfVariable.get(tfName)!, (await g.data()) as Float32Array);
    } finally {
      tf.dispose(Object.values(result.grads));
    }
    return { values: result.values, grads };
  }

  async applyAdamW(grads: Map<string, Float32Array>, o: AdamWSettings): Promise<void> {
    const optimizer = this.optimizerFor(o);
    const tensors = new Map<string, tf.Tensor>();
    try {
      for (const [name, g] of grads) {
        const variable = this.model.variables.get(name);
        if (!variable) throw new Error(`AdamW got a gradient for "${name}", which is not one of the model's weights`);
        tensors.set(name, tf.tensor(g, variable.shape));
      }
      optimizer.apply(tensors, o.lr, o.gradScale);
    } finally {
      tf.dispose([...tensors.values()]);
    }
  }

  /** AdamW with these settings; rebuilt (keeping its moments and step) when the settings change. */
  private optimizerFor(o: AdamWSettings): AdamW {
    const settings = { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay };
    const same = this.settings && (Object.keys(settings) as Array<keyof typeof settings>).every((k) => this.settings![k] === settings[k]);
    if (this.optimizer && same) return this.optimizer;
    const next = new AdamW(this.model.variables, settings);
    if (this.optimizer) {
      next.importState(this.optimizer.exportState());
      this.optimizer.dispose();
    }
    this.optimizer = next;
    this.settings = settings;
    return next;
  }

  async getWeights(): Promise<Weights> {
    return this.model.getWeights();
  }

  async setWeights(weights: Weights): Promise<void> {
    this.model.setWeights(weights);
  }

  async exportOptimizerState(): Promise<AdamWState | null> {
    return this.optimizer ? this.optimizer.exportState() : null;
  }

  async importOptimizerState(state: AdamWState | null): Promise<void> {
    let next: AdamW | null = null;
    if (state) {
      // Settings come with the next applyAdamW; the moments and step are what a checkpoint keeps.
      next = new AdamW(this.model.variables, this.settings ?? {});
      try {
        next.importState(state);
      } catch (err) {
        next.dispose();
        throw err;
      }
    }
    this.optimizer?.dispose();
    this.optimizer = next;
    if (!next) this.settings = null;
  }

  parameterCount(): number {
    return this.model.parameterCount();
  }

  async dispose(): Promise<void> {
    this.optimizer?.dispose();
    this.optimizer = null;
    this.model.dispose();
  }
}
