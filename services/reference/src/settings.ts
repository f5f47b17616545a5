// The reference's settings (REFERENCE_* environment variables, --key=value flags): a light module
// that `npm start` and the docs generator import without loading an engine.
import { setting, z, type Values } from "@grpomesh/config";
import { MODEL_SERVICE_SETTINGS } from "@grpomesh/role-engines/settings";
import { MAX_MESSAGE_BYTES, serviceSettings } from "@grpomesh/rpc/settings";

export const REFERENCE_SETTINGS = {
  ...MODEL_SERVICE_SETTINGS,
  ...serviceSettings("127.0.0.1:50072", 9466),
  max_message_bytes: MAX_MESSAGE_BYTES,
  dataset_meta: setting(
    z.string(),
    "data/corpus/kjv.meta.json",
    "dataset metadata whose vocabulary the checkpoint must speak (the default is the repository's); none or empty: no check",
  ),
};

export type ReferenceConfig = Values<typeof REFERENCE_SETTINGS>;
export const REFERENCE_ENV_PREFIX = "REFERENCE_";
