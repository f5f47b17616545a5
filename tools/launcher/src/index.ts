export * from "./supervisor.ts";
export * from "./stack.ts";
export * from "./test-models.ts";
