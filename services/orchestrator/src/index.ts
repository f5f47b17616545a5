export * from "./config.ts";
export * from "./grpc-ports.ts";
export * from "./judge-fleet.ts";
export * from "./progress.ts";
export * from "./startup.ts";
export * from "./server.ts";
export * from "./recovery.ts";
export * from "./run.ts";
