// The policy service as a library: start it in-process (tests, tools) or run main.ts.
export { startPolicyServer, type PolicyServer, type PolicyServerOptions } from "./policy-server.ts";
export { POLICY_SETTINGS, POLICY_ENV_PREFIX, type PolicyConfig } from "./settings.ts";
export { PolicyMetrics } from "./policy-metrics.ts";
