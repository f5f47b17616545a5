export * from "./chaos.ts";
export * from "./ledger.ts";
export * from "./plan.ts";
export * from "./table.ts";
export * from "./models.ts";
