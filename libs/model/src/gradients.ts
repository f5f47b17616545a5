// tfjs-core's Node build (dist/tf-core.node.js, what `import "@tensorflow/tfjs-core"` loads)
// registers no gradients: the @tensorflow/tfjs bundle normally does, and we do not install it.
// The gradient configs ship only as ES modules in dist/gradients/*_grad.js, with extensionless
// imports that tsx resolves; compiled to JavaScript (the container images) we register a resolve hook
// of our own that does the same for tfjs-core's files only (EXTENSIONLESS). Loading them makes a second copy of tfjs-core's ES modules; that is
// safe because tfjs keeps its engine, kernel and gradient registries in globals (built for
// several copies of tfjs in one process). Kernels that already have a gradient are left alone.
import * as tf from "@tensorflow/tfjs-core";
import { readdirSync } from "node:fs";
import { createRequire, register } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

// Prod_grad imports tfjs-core's index, which loads the whole ESM copy: tf.prod has no gradient.
const SKIP = new Set(["Prod_grad.js"]);

// Relative imports from tfjs-core's ES modules that name no extension get ".js", as tsx would do.
const EXTENSIONLESS = `export async function resolve(specifier, context, next) {
  try { return await next(specifier, context); } catch (e) {
    if (e?.code === "ERR_MODULE_NOT_FOUND" && /^\\.\\.?\\//.test(specifier) && !/\\.[cm]?js$/.test(specifier) && /\\/@tensorflow\\/tfjs-core\\//.test(context.parentURL ?? "")) return next(specifier + ".js", context);
    throw e;
  }
}`;

async function registerAllGradients(): Promise<number> {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve("@tensorflow/tfjs-core/package.json")), "dist", "gradients");
  const files = readdirSync(dir).filter((f) => f.endsWith("_grad.js") && !SKIP.has(f));
  const urls = files.map((f) => pathToFileURL(join(dir, f)).href);
  // Compiled (this file is .js): no tsx, so the hook; under tsx its own resolver does it.
  if (!import.meta.url.endsWith(".ts")) register(`data:text/javascript,${encodeURIComponent(EXTENSIONLESS)}`);
  const modules = await Promise.all(urls.map((u) => import(u) as Promise<Record<string, unknown>>));
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
    throw new Error(`tfjs gradients could not be registered from ${dir}; their extensionless imports did not resolve`);
  }
  return registered;
}

/** How many gradient configs this module registered (0 when another tfjs bundle already had). */
export const registeredGradients = await registerAllGradients();
