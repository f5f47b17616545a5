// Which engine trains the policy, on which onnxruntime execution provider. "auto" takes the fastest
// one installed, by what was measured (docs/engine.md): onnxruntime on a GPU provider (CUDA when
// installed, else WebGPU on a hardware adapter), else tfjs-node-gpu where that is installed, else
// onnxruntime on the CPU (10× tfjs-wasm here, the CPU default).
import { createRequire } from "node:module";
import type { ModelConfig } from "@grpomesh/model/format";
import { describeSelection, ExecutionProviderError, resolveExecutionProvider, type ProviderSelection } from "@grpomesh/onnx-export/providers";
import { failedPrecondition, invalidArgument } from "../errors.ts";
import { ENGINE_CHOICES, type EngineChoice, type EngineName, type TrainingBackend } from "./types.ts";

/** The engine in use and why, for start-up lines and Info. */
export interface EngineSelection {
  engine: EngineName;
  reason: string;
  /** The onnxruntime execution provider, when the engine is onnx. */
  provider?: ProviderSelection;
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
  /** resolveExecutionProvider for the `execution_provider` setting. */
  provider(choice: string): ProviderSelection;
  tfjsNodeGpu(): boolean;
  onnxEngine(): boolean;
}

const PROBE: EngineProbe = {
  provider: (choice) => resolveExecutionProvider(choice),
  tfjsNodeGpu: () => installed("@tensorflow/tfjs-node-gpu"),
  onnxEngine: () => installed("@grpomesh/onnx-trainer"),
};

/**
 * Resolves the `engine` and `execution_provider` settings without loading either engine. An
 * execution provider that cannot run here (asked for by name) is FAILED_PRECONDITION, with what to install.
 */
export function selectEngine(choice: EngineChoice | string | undefined, providerChoice = "auto", probe = PROBE): EngineSelection {
  const asked = choice || "auto";
  if (!ENGINE_CHOICES.includes(asked as EngineChoice)) {
    throw invalidArgument(`engine is ${JSON.stringify(asked)}; expected one of ${ENGINE_CHOICES.join(", ")}`);
  }
  if (asked === "tfjs") {
    if (providerChoice !== "auto" && providerChoice !== "cpu") {
      throw invalidArgument(
        `execution_provider=${providerChoice} applies to the onnx engine; with --engine=tfjs the tfjs backend (--backend) chooses the device`,
      );
    }
    return { engine: "tfjs", reason: "asked for --engine=tfjs" };
  }
  let provider: ProviderSelection;
  try {
    provider = probe.provider(providerChoice);
  } catch (err) {
    if (err instanceof ExecutionProviderError) throw failedPrecondition(err.message);
    throw err;
  }
  const onnx = (reason: string): EngineSelection => ({ engine: "onnx", reason: `${reason}; execution provider ${provider.reason}`, provider });
  if (asked === "onnx") return onnx("asked for --engine=onnx");
  if (provider.provider !== "cpu") return onnx(`auto: onnxruntime on ${provider.provider}`);
  if (providerChoice === "auto" && probe.tfjsNodeGpu()) {
    return { engine: "tfjs", reason: `auto: @tensorflow/tfjs-node-gpu is installed and onnxruntime has no GPU provider here (${provider.reason})` };
  }
  if (!probe.onnxEngine()) return { engine: "tfjs", reason: "auto: @grpomesh/onnx-trainer cannot be loaded; tfjs is the only engine here" };
  return onnx("auto: onnxruntime on the CPU is the fastest CPU engine (docs/engine.md)");
}

/** Creates the chosen backend; its weights are placeholders until the caller loads a checkpoint. */
export async function createTrainingBackend(
  config: ModelConfig,
  options: {
    engine?: EngineChoice | string;
    executionProvider?: string;
    tfjsBackend?: string;
    threads?: number;
    frozen?: boolean;
    spinning?: boolean;
  } = {},
): Promise<{ backend: TrainingBackend; selection: EngineSelection }> {
  const selection = selectEngine(options.engine, options.executionProvider);
  if (selection.engine === "tfjs") {
    const [{ initBackend, MaskedTransformer }, { TfjsBackend }] = await Promise.all([import("@grpomesh/model"), import("./tfjs.ts")]);
    const info = await initBackend(options.tfjsBackend, { log: false });
    selection.reason = [selection.reason, `tfjs backend ${info.choice} (${info.reason})`].filter(Boolean).join("; ");
    return { backend: new TfjsBackend(new MaskedTransformer(config)), selection };
  }
  const { OnnxWorkerBackend } = await import("./onnx.ts");
  const provider = selection.provider ?? resolveExecutionProvider("cpu");
  try {
    const backend = await OnnxWorkerBackend.start(config, {
      threads: options.threads,
      executionProviders: provider.sessionProviders,
      providerLabel: describeSelection(provider),
      frozen: options.frozen,
      spinning: options.spinning ?? false,
    });
    return { backend, selection };
  } catch (err) {
    throw failedPrecondition(
      `the onnxruntime engine could not start on ${provider.provider}: ${(err as Error).message}. ` +
        (provider.provider === "cpu" ? "Run with --engine=tfjs to train with tfjs instead." : "Run with --execution_provider=cpu to train on the CPU instead."),
    );
  }
}
