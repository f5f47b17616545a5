import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";

/**
 * Registers tfjs's gradient functions once per process. tfjs-core's Node bundle registers none
 * (the union package @tensorflow/tfjs does it, and we do not install that), so tf.grad fails with
 * "gradient function not found for Sum". Its ESM build has them, but with extensionless imports
 * that only tsx's require hook resolves; the registry lives on globalThis, so registering through
 * that build reaches the bundle everyone imports. Costs ≈0.3 s the first time (tsx caches).
 */
export function ensureTfGradients(): void {
  if (tf.getGradient("Sum") !== undefined) return;
  try {
    createRequire(import.meta.url)("@tensorflow/tfjs-core/dist/register_all_gradients.js");
  } catch (err) {
    throw new Error(
      `could not register tfjs gradients from @tensorflow/tfjs-core/dist/register_all_gradients.js ` +
        `(${(err as Error).message.split("\n")[0]}); run under tsx (node --import tsx), which resolves that file's imports`,
    );
  }
  if (tf.getGradient("Sum") === undefined) {
    throw new Error("tfjs gradients still missing after loading register_all_gradients.js; two tfjs-core copies with separate registries?");
  }
}
