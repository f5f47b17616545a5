// The settings the two model services (policy and reference) share: which checkpoint, how large a
// request may be, and what computes. A light module (no tfjs, no onnxruntime): `npm start` and the
// docs generator import it.
import { setting, z } from "@grpomesh/config";
import { TF_BACKENDS } from "@grpomesh/model/format";
import { ENGINE_CHOICES } from "./backends/types.ts";
import { EXECUTION_PROVIDER_SETTING } from "@grpomesh/onnx-export/providers";

export const MODEL_SERVICE_SETTINGS = {
  checkpoint: setting(z.string().min(1), "models/generator", "generator checkpoint folder (config.json + model.safetensors), or a policy checkpoint"),
  max_batch: setting(z.int().min(1), 256, "most inputs per request"),
  max_completions: setting(z.int().min(1), 8192, "most completions (inputs × group size) per request"),
  engine: setting(
    z.enum(ENGINE_CHOICES),
    "auto",
    "what computes: auto = the fastest installed (onnxruntime on a GPU provider → tfjs-node-gpu → onnxruntime CPU; docs/engine.md), onnx or tfjs",
  ),
  execution_provider: EXECUTION_PROVIDER_SETTING,
  threads: setting(z.int().min(0), 0, "onnxruntime intra-op threads; 0: one per core"),
  spin_wait: setting(
    z.boolean(),
    false,
    "onnxruntime threads spin-wait after a run: on for a node of its own, off where the judge or another engine shares the cores",
  ),
  backend: setting(z.enum(["", ...TF_BACKENDS]), "", "tfjs backend when the engine is tfjs; empty: the first installed of node-gpu, node, wasm, cpu"),
};
