// The reference service as a library: start it in-process (tests, tools) or run main.ts.
export { startReferenceServer, defaultReferenceConfig, type ReferenceServer, type ReferenceServerOptions } from "./reference-server.ts";
export { parseReferenceConfig, referenceUsage, ConfigError, REFERENCE_FLAG_DEFAULTS, type ReferenceServiceConfig } from "./config.ts";
