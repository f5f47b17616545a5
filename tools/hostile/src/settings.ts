// `npm run hostile` settings. A light module: the docs generator imports it.
import { setting, z } from "@grpomesh/config";

export const HOSTILE_ENV_PREFIX = "HOSTILE_";

export const HOSTILE_SETTINGS = {
  minutes: setting(
    z
      .number()
      .gt(0)
      .max(24 * 60),
    3,
    "how long to send hostile requests, in minutes",
  ),
  seed: setting(z.int().min(0), 1, "seed of the hostile values and of the run; a seed reproduces its requests"),
  concurrency: setting(z.int().min(1).max(64), 4, "calls in flight at once"),
  keep: setting(z.boolean(), false, "keep the temp folder (service logs, run directory) and print where it is"),
};
