// Which engine trains the policy. "auto" takes the fastest one installed, by what was measured
// (docs/engine.md): onnxruntime with its CUDA provider on GPU nodes that have it, else tfjs-node-gpu
// where that is installed, else onnxruntime on the CPU (10× tfjs-wasm here, the CPU default).
import { createRequire } from "node:module";
import type { ModelConfig } from "@grpomesh/model/format";
import { cudaProviderInstalled } from "@grpomesh/onnx-export/providers";
import { failedPrecondition, invalidArgument } from "../errors.ts";
import { ENGINE_CHOICES, type EngineChoice, type EngineName, type TrainingBackend } from "./types.ts";

/** The engine in use and why, for start-up lines and Info. */
export interface EngineSelection {
  engine: EngineName;
  reason: string;
  /** onnxruntime execution providers, when the engine is onnx. */
  executionProviders?: string[];
}

function installed(specifier: string): boolean {
  try {
    createRequire(import.meta.url).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** What "auto" looks at; tests pass their own. */
export interface EngineProbe {
  cuda(): boolean;
  tfjsNodeGpu(): boolean;
  onnxEngine(): boolean;
}

const PROBE: EngineProbe = {
  cuda: () => cudaProviderInstalled(),
  tfjsNodeGpu: () => installed("@tensorflow/tfjs-node-gpu"),
  onnxEngine: () => installed("@grpomesh/onnx-trainer"),
};

/** Resolves a choice (the `engine` setting) to an engine without loading either. */
export function selectEngine(choice: EngineChoice | string | undefined, probe = PROBE): EngineSelection {
  const asked = choice || "auto";
  if (!ENGINE_CHOICES.includes(asked as EngineChoice)) {
    throw invalidArgument(`engine is ${JSON.stringify(asked)}; expected one of ${ENGINE_CHOICES.join(", ")}`);
  }
  const source = asked !== "auto" ? `asked for --engine=${asked}` : "";
  const cuda = probe.cuda();
  if (asked === "onnx") return { engine: "onnx", reason: source, executionProviders: cuda ? ["cuda", "cpu"] : ["cpu"] };
  if (asked === "tfjs") return { engine: "tfjs", reason: source };
  if (cuda) return { engine: "onnx", reason: "auto: onnxruntime's CUDA provider is installed", executionProviders: ["cuda", "cpu"] };
  if (probe.tfjsNodeGpu()) return { engine: "tfjs", reason: "auto: @tensorflow/tfjs-node-gpu is installed and onnxruntime has no CUDA provider" };
  if (!probe.onnxEngine()) return { engine: "tfjs", reason: "auto: @grpomesh/onnx-trainer cannot be loaded; tfjs is the only engine here" };
  return {
    engine: "onnx",
    reason: "auto: no GPU engine installed; onnxruntime on the CPU is the fastest CPU engine (docs/engine.md)",
    executionProviders: ["cpu"],
  };
}

/** Creates the chosen backend; its weights are placeholders until the caller loads a checkpoint. */
export async function createTrainingBackend(
  config: ModelConfig,
  options: { engine?: EngineChoice | string; tfjsBackend?: string; threads?: number; frozen?: boolean; spinning?: boolean } = {},
): Promise<{ backend: TrainingBackend; selection: EngineSelection }> {
  const selection = selectEngine(options.engine);
  if (selection.engine === "tfjs") {
    const [{ initBackend, MaskedTransformer }, { TfjsBackend }] = await Promise.all([import("@grpomesh/model"), import("./tfjs.ts")]);
    const info = await initBackend(options.tfjsBackend, { log: false });
    selection.reason = [selection.reason, `tfjs backend ${info.choice} (${info.reason})`].filter(Boolean).join("; ");
    return { backend: new TfjsBackend(new MaskedTransformer(config)), selection };
  }
  const { OnnxWorkerBackend } = await import("./onnx.ts");
  try {
    const backend = await OnnxWorkerBackend.start(config, {
      threads: options.threads,
      executionProviders: selection.executionProviders ?? ["cpu"],
      frozen: options.frozen,
      spinning: options.spinning ?? false,
    });
    return { backend, selection };
  } catch (err) {
    throw failedPrecondition(`the onnxruntime engine could not start: ${(err as Error).message}. Run with --engine=tfjs to train with tfjs instead.`);
  }
}
