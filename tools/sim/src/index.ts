export { startDelayProxy, type DelayProxy, type DelayProxyOptions } from "./delay-proxy.ts";
export { Network, NETNS_PREFIX, networkProblem, removeLeftovers, simNamespaces, type SimHost } from "./netns.ts";
export { SIM_SETTINGS, parseCompare, type SimConfig } from "./settings.ts";
export { summarizeRun, type RunSummary } from "./sim.ts";
