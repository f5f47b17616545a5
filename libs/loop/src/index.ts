export * from "./ports.ts";
export * from "./config.ts";
export * from "./trainer.ts";
export * from "./run-dir.ts";
export * from "./wire.ts";
