// The reference service as a library: start it in-process (tests, tools) or run main.ts.
export { startReferenceServer, type ReferenceServer, type ReferenceServerOptions } from "./reference-server.ts";
export { REFERENCE_SETTINGS, REFERENCE_ENV_PREFIX, type ReferenceConfig } from "./settings.ts";
