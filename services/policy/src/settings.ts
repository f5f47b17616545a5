// The policy's settings (POLICY_* environment variables, --key=value flags): a light module that
// `npm start` and the docs generator import without loading an engine.
import { setting, z, type Values } from "@grpomesh/config";
import { MODEL_SERVICE_SETTINGS } from "@grpomesh/role-engines/settings";
import { MAX_MESSAGE_BYTES, serviceSettings } from "@grpomesh/rpc/settings";

export const POLICY_SETTINGS = {
  ...MODEL_SERVICE_SETTINGS,
  ...serviceSettings("127.0.0.1:50071", 9465),
  max_message_bytes: MAX_MESSAGE_BYTES,
  max_ppo_epochs: setting(z.int().min(1), 16, "most ppo_epochs an Update may ask for (more: RESOURCE_EXHAUSTED)"),
  replay_window: setting(z.int().min(1), 64, "recent Update results kept (and checkpointed) to answer retries"),
  checkpoint_root: setting(
    z.string().min(1),
    "runs",
    "SaveCheckpoint/LoadCheckpoint folders must lie inside it (relative ones resolve against it); never unconfined",
  ),
};

export type PolicyConfig = Values<typeof POLICY_SETTINGS>;
export const POLICY_ENV_PREFIX = "POLICY_";
