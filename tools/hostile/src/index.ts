// Hostile input against every RPC of every service: the catalogue, the probe and the stack, shared
// by the test and `npm run hostile`.
export * from "./values.ts";
export * from "./cases.ts";
export * from "./probe.ts";
export * from "./runner.ts";
export * from "./state.ts";
export * from "./stack.ts";
export * from "./session.ts";
