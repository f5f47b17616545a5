// `npm run chaos` settings. A light module: the docs generator imports it.
import { setting, z, type Values } from "@grpomesh/config";

export const CHAOS_ENV_PREFIX = "CHAOS_";

export const CHAOS_SETTINGS = {
  seed: setting(z.int(), 1, "seeds the run (data order, sampling) and the fault plan"),
  faults: setting(z.int().min(0), 4, "SIGKILLs during the run; every four cover policy, reference, a judge replica and the orchestrator"),
  steps: setting(z.int().min(2), 40, "GRPO steps of the run (a fault needs a step after it)"),
  plan: setting(z.string(), "", 'explicit faults instead of the seeded draw, e.g. "judge@3,policy@9,orchestrator@15,reference@20"'),
  judges: setting(z.int().min(2), 2, "judge replicas (a replica's death is survived by the others)"),
  max_staleness: setting(
    z.int().min(0).max(8),
    0,
    "the run's max_staleness: > 0 pipelines the steps (sampling and judging ahead of the update), and resume must stay bit-exact",
  ),
  checkpoint_interval: setting(z.int().min(1), 4, "checkpoint every this many steps: a resume redoes at most this many − 1 steps"),
  models: setting(z.enum(["bundled", "tiny"]), "bundled", "bundled: models/generator and models/judge (about a minute); tiny: made on the spot (seconds)"),
  run_config: setting(
    z.string().min(1),
    "configs/kjv.json",
    "run settings for the bundled models (steps, checkpoint interval and seed come from the keys above)",
  ),
  tls: setting(
    z.boolean(),
    true,
    "mutual TLS between the services (fresh credentials in the work folder); false: plaintext gRPC (the admin token is still required)",
  ),
  threads: setting(z.int().min(1), 1, "onnxruntime threads of policy and reference, fixed so every run reduces in the same order"),
  work_dir: setting(z.string(), "", "where runs, logs and credentials go; empty: a fresh temp folder, removed after a pass"),
  keep: setting(z.boolean(), false, "keep the work folder after a pass too"),
  json: setting(z.string(), "", "also write the report as JSON to this file"),
};

export type ChaosConfig = Values<typeof CHAOS_SETTINGS>;

export const CHAOS_INTRO = `
Runs a seeded GRPO run on the local stack twice: uninterrupted, then while SIGKILLs hit the policy,
the reference, a judge replica and the orchestrator at seeded moments. The launcher's supervisor
restarts judges and the reference; a dead policy is restarted from the initial generator and the
orchestrator resumed with --resume. Prints what happened to each fault and exits 0 only if the final
policy weights and optimizer state equal the uninterrupted run's byte for byte, every step is
counted once in log.jsonl, and every death was handled as its role's should be.`;
