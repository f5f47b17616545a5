// The worker that owns an OnnxTrainer (see onnx-protocol.ts for why it is a worker). One request at
// a time, in order. Results are copied back (structured clone), never transferred: the trainer may
// keep references to the arrays it returns.
import { availableParallelism } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { OnnxTrainer } from "@grpomesh/onnx-trainer";
import { expectedTensorShapes, specialTokenIds } from "@grpomesh/model/format";
import type { AdamWSettings, AdamWState } from "@grpomesh/model/format";
import type { LossInputs, LossOptions } from "@grpomesh/grpo/loss";
import { type OnnxReply, type OnnxRequest, type OnnxWorkerInit, type OnnxWorkerReady } from "./onnx-protocol.ts";

const init = workerData as OnnxWorkerInit;
const port = parentPort!;
const banned = specialTokenIds(init.config);

async function main(): Promise<void> {
  let trainer: OnnxTrainer;
  try {
    const zeros = new Map<string, Float32Array>();
    for (const [name, shape] of expectedTensorShapes(init.config)) zeros.set(name, new Float32Array(shape.reduce((a, b) => a * b, 1)));
    trainer = await OnnxTrainer.create(init.config, zeros, {
      threads: init.threads,
      executionProviders: init.executionProviders,
      forwardWeights: init.frozen ? "initializers" : "inputs",
      spinning: init.spinning,
    });
  } catch (err) {
    port.postMessage({ type: "failed", message: (err as Error).message } satisfies OnnxWorkerReady);
    return;
  }
  const provider = init.providerLabel ?? trainer.executionProvider;
  const description = trainer.executionProvider === "cpu" ? `onnxruntime cpu, ${init.threads ?? availableParallelism()} threads` : `onnxruntime ${provider}`;
  // On a GPU provider, say which nodes onnxruntime left on the CPU (read once, at start).
  let placements = {};
  let placementError: string | undefined;
  if (trainer.executionProvider !== "cpu") {
    try {
      placements = await trainer.placement(init.frozen ? ["forward"] : ["forward", "train", "adamw"]);
    } catch (err) {
      placementError = (err as Error).message.slice(0, 200);
    }
  }
  port.postMessage({ type: "ready", description, parameterCount: trainer.parameterCount(), placements, placementError } satisfies OnnxWorkerReady);
  let chain = Promise.resolve();
  port.on("message", (req: OnnxRequest) => {
    chain = chain.then(async () => {
      let reply: OnnxReply;
      try {
        reply = { id: req.id, result: await dispatch(trainer, req) };
      } catch (err) {
        reply = { id: req.id, error: (err as Error).message ?? String(err) };
      }
      port.postMessage(reply);
    });
  });
}

async function dispatch(trainer: OnnxTrainer, req: OnnxRequest): Promise<unknown> {
  switch (req.op) {
    case "logits":
      return await trainer.logits(...req.args);
    case "lossAndGrads": {
      const [ids, inputs, options, temperature] = req.args;
      return await trainer.lossAndGrads(ids, inputs as LossInputs, options as LossOptions, temperature, banned);
    }
    case "applyAdamW":
      return await trainer.applyAdamW(req.args[0], req.args[1] as AdamWSettings);
    case "setWeights":
      return trainer.setWeights(req.args[0]);
    case "importOptimizerState":
      return trainer.importOptimizerState(req.args[0] as AdamWState | null);
    case "getWeights":
      return trainer.getWeights();
    case "exportOptimizerState":
      return trainer.exportOptimizerState();
    case "release":
      return await trainer.release();
    default:
      throw new Error(`unknown request ${JSON.stringify((req as { op: string }).op)}`);
  }
}

void main();
