// The GRPO loss of loss-graph.ts on tfjs (tfOps of @grpomesh/model), as a tfjs function of the
// policy's log-probs and as one gradient step's loss and gradients.
import * as tf from "@tensorflow/tfjs-core";
import { tfOps } from "@grpomesh/model";
import type { LossInputs, LossOptions, LossValues } from "./loss.ts";
import { resolveLossInputs } from "./loss.ts";
import { grpoLoss, lossData, lossDataShapes, lossSpec, readLossParts, type LossParts } from "./loss-graph.ts";

/** The loss's parts from `logp` [B, T, V] (the policy's log-softmax at τ, a function of the weights); read them with readLossParts. */
export function grpoLossTensors(logp: tf.Tensor3D, inputs: LossInputs, options: LossOptions = {}): LossParts<tf.Tensor> {
  const o = resolveLossInputs(inputs, options);
  const { batchSize: B, groupSize: k, seqLen: T, vocabSize: V } = inputs;
  if (logp.rank !== 3 || logp.shape[0] !== B || logp.shape[1] !== T || logp.shape[2] !== V) {
    throw new Error(`logp has shape [${logp.shape.join(", ")}]; expected [B, T, V] = [${B}, ${T}, ${V}] to match the completions`);
  }
  if (logp.dtype !== "float32") throw new Error(`logp has dtype ${logp.dtype}; expected float32 log-probabilities`);
  const spec = lossSpec(inputs, o);
  const d = lossData(inputs, o, spec);
  const parts = tf.tidy(() => {
    const x = Object.fromEntries(
      lossDataShapes(spec, B, T, k, V).map(([name, shape]) => [name, tf.tensor(d[name]!, shape, name === "completionIds" ? "int32" : "float32")]),
    );
    const scalars = { groupSize: k, sampleCount: o.sampleCount, klBeta: o.klBeta, clipLow: 1 - o.clipEps, clipHigh: 1 + o.clipEps };
    return grpoLoss(tfOps, logp, { ...x, ...scalars }, spec) as unknown as tf.TensorContainerObject;
  });
  return parts as unknown as LossParts<tf.Tensor>;
}

/**
 * One gradient of the loss: `computeLogp` runs the policy forward (reading tf.Variables) and
 * returns log-softmax(logits/τ) [B, T, V]. Returns the gradients (the caller disposes them) and the
 * loss values; every other tensor is disposed. `varList` defaults to all trainable variables.
 */
export function grpoLossAndGrads(
  computeLogp: () => tf.Tensor3D,
  inputs: LossInputs,
  options: LossOptions = {},
  varList?: tf.Variable[],
): { grads: tf.NamedTensorMap; values: LossValues } {
  resolveLossInputs(inputs, options); // fail before the forward pass
  let values: LossValues | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = grpoLossTensors(computeLogp(), inputs, options);
    // One device read for every part (a read each would be six GPU syncs per step).
    const present = Object.values(out).filter((t): t is tf.Tensor => t !== null);
    const stacked = tf.stack(present.map((t) => tf.reshape(t, [])));
    const read = stacked.dataSync();
    stacked.dispose();
    values = readLossParts(out, (t) => read[present.indexOf(t)]!);
    return out.loss as tf.Scalar;
  }, varList);
  value.dispose();
  return { grads, values: values! };
}
