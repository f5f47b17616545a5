// Helpers for benches (the runnable entry point is main.ts).
export { BENCHES, benchUsage, type BenchEntry, type BenchModule } from "./registry.ts";
export { percentile, mean, formatTable } from "./stats.ts";
export { parseFlags, intList, type FlagValue } from "./options.ts";
