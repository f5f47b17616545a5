// Picks the tfjs backend at run time from what is installed. The native packages
// (@tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node) download libtensorflow at install time, so
// they are optional peers: present on GPU nodes, absent here, where wasm is the default.
import * as tf from "@tensorflow/tfjs-core";

import { TF_BACKENDS, type BackendChoice } from "./backend-names.ts";

export type { BackendChoice };

export interface BackendInfo {
  /** What was asked for or found, in this module's names. */
  choice: BackendChoice;
  /** The tfjs backend name now active (`tensorflow` for the native ones). */
  backend: string;
  /** Why this one: forced by env, asked for, or the first installed in the order. */
  reason: string;
  /** The one line that was logged. */
  line: string;
}

const ORDER: readonly BackendChoice[] = TF_BACKENDS;
const PACKAGE: Record<BackendChoice, string> = {
  "node-gpu": "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
  cpu: "@tensorflow/tfjs-backend-cpu",
};
const TF_NAME: Record<BackendChoice, string> = { "node-gpu": "tensorflow", node: "tensorflow", wasm: "wasm", cpu: "cpu" };
const ALIASES: Record<string, BackendChoice> = {
  "node-gpu": "node-gpu",
  "tfjs-node-gpu": "node-gpu",
  gpu: "node-gpu",
  node: "node",
  "tfjs-node": "node",
  tensorflow: "node",
  wasm: "wasm",
  cpu: "cpu",
};

export const BACKEND_ENV = "GRPOMESH_TF_BACKEND";

function parseChoice(name: string, source: string): BackendChoice {
  const choice = ALIASES[name.trim().toLowerCase()];
  if (!choice) throw new Error(`${source} names tfjs backend "${name}"; expected one of ${ORDER.join(", ")}`);
  return choice;
}

// Imported through a variable so TypeScript does not require the optional native packages.
async function tryLoad(choice: BackendChoice): Promise<string | null> {
  const specifier = PACKAGE[choice];
  try {
    await import(specifier);
    return null;
  } catch (err) {
    return (err as Error).message.split("\n")[0] ?? String(err);
  }
}

async function activate(choice: BackendChoice): Promise<boolean> {
  return (await tf.setBackend(TF_NAME[choice])) && tf.getBackend() === TF_NAME[choice];
}

let current: Promise<BackendInfo> | null = null;
let currentRequest: BackendChoice | undefined;

/**
 * Initialises tfjs once per process and returns which backend runs and why. Order when nothing is
 * asked: tfjs-node-gpu → tfjs-node → wasm → cpu. `GRPOMESH_TF_BACKEND` forces one (and wins over
 * `preferred`); a forced or preferred backend that is not installed is an error, not a fallback.
 * Calling again returns the same result; asking for a different backend after init is an error.
 */
export function initBackend(preferred?: string, options: { log?: ((line: string) => void) | false } = {}): Promise<BackendInfo> {
  const env = process.env[BACKEND_ENV];
  const request = env ? parseChoice(env, `env ${BACKEND_ENV}`) : preferred ? parseChoice(preferred, "initBackend(preferred)") : undefined;
  if (current) {
    if (request && currentRequest !== request) {
      return current.then((info) => {
        if (info.choice === request) return info;
        throw new Error(
          `tfjs backend is already "${info.choice}" (${info.reason}); cannot switch to "${request}" in the same process. Ask for it before anything else initialises tfjs.`,
        );
      });
    }
    return current;
  }
  currentRequest = request;
  const log = options.log === false ? () => {} : (options.log ?? ((line: string) => console.log(line)));
  current = (async () => {
    let choice: BackendChoice;
    let reason: string;
    if (request) {
      const failure = await tryLoad(request);
      if (failure !== null) {
        throw new Error(
          `tfjs backend "${request}" was ${env ? `forced by ${BACKEND_ENV}=${env}` : "asked for"} but ${PACKAGE[request]} cannot be loaded (${failure}). ` +
            `Install it (npm install ${PACKAGE[request]}) or pick one of the installed backends.`,
        );
      }
      choice = request;
      reason = env ? `forced by ${BACKEND_ENV}=${env}` : "asked for by the caller";
    } else {
      const skipped: string[] = [];
      let found: BackendChoice | null = null;
      for (const candidate of ORDER) {
        const failure = await tryLoad(candidate);
        if (failure === null) {
          found = candidate;
          break;
        }
        skipped.push(`${PACKAGE[candidate]} not installed`);
      }
      if (!found) throw new Error(`no tfjs backend could be loaded (${skipped.join("; ")}); install @tensorflow/tfjs-backend-wasm`);
      choice = found;
      reason = skipped.length ? `first installed (${skipped.join(", ")})` : "first in the preference order";
    }
    if (!(await activate(choice))) {
      throw new Error(`tfjs backend "${TF_NAME[choice]}" loaded from ${PACKAGE[choice]} but failed to initialise; set ${BACKEND_ENV} to another backend`);
    }
    await tf.ready();
    const line = `tfjs backend: ${tf.getBackend()} (${reason})`;
    log(line);
    return { choice, backend: tf.getBackend(), reason, line };
  })();
  current.catch(() => {
    current = null; // a failed init may be retried with another choice
  });
  return current;
}
