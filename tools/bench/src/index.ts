// Helpers for benches (the runnable entry point is main.ts).
export { BENCHES, benchUsage, type BenchEntry } from "./registry.ts";
export { percentile, mean, formatTable } from "./stats.ts";
