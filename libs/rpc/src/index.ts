export * from "./adapter.ts";
export * from "./errors.ts";
export * from "./server.ts";
export * from "./client.ts";
export * from "./service-main.ts";
export * from "./serve-loaded.ts";
export * from "./security.ts";
export * from "./pki.ts";
