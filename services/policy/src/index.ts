// The policy service as a library: start it in-process (tests, tools) or run main.ts.
export { startPolicyServer, defaultPolicyConfig, type PolicyServer, type PolicyServerOptions } from "./policy-server.ts";
export { parsePolicyConfig, policyUsage, ConfigError, POLICY_FLAG_DEFAULTS, type PolicyServiceConfig } from "./config.ts";
export { PolicyMetrics } from "./policy-metrics.ts";
