// tfjs-core's Node build (dist/tf-core.node.js, what `import "@tensorflow/tfjs-core"` loads)
// registers no gradients: the @tensorflow/tfjs bundle normally does, and we do not install it.
// The gradient configs ship only as ES modules in dist/gradients/*_grad.js, with extensionless
// imports that tsx resolves. Loading them makes a second copy of tfjs-core's ES modules; that is
// safe because tfjs keeps its engine, kernel and gradient registries in globals (built for
// several copies of tfjs in one process). Kernels that already have a gradient are left alone.
import * as tf from "@tensorflow/tfjs-core";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

// Prod_grad imports tfjs-core's index, which loads the whole ESM copy: tf.prod has no gradient.
const SKIP = new Set(["Prod_grad.js"]);

async function registerAllGradients(): Promise<number> {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve("@tensorflow/tfjs-core/package.json")), "dist", "gradients");
  const files = readdirSync(dir).filter((f) => f.endsWith("_grad.js") && !SKIP.has(f));
  const modules = await Promise.all(files.map((f) => import(pathToFileURL(join(dir, f)).href) as Promise<Record<string, unknown>>));
  let registered = 0;
  for (const mod of modules) {
    for (const value of Object.values(mod)) {
      const config = value as tf.GradConfig;
      if (config && typeof config.kernelName === "string" && typeof config.gradFunc === "function" && !tf.getGradient(config.kernelName)) {
        tf.registerGradient(config);
        registered++;
      }
    }
  }
  if (!tf.getGradient("RealDiv") || !tf.getGradient("Softmax")) {
    throw new Error(`tfjs gradients could not be registered from ${dir}; run with tsx (node --import tsx) so their extensionless imports resolve`);
  }
  return registered;
}

/** How many gradient configs this module registered (0 when another tfjs bundle already had). */
export const registeredGradients = await registerAllGradients();
