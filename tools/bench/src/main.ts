// `npm run bench -- <name> [--key=value …]`: one entry point for every benchmark. Each bench is a
// settings table (settings.ts) and a module with `run(config)`, imported only when asked for, so
// one bench's engines never load for another, and a bad setting is refused before any loads.
import { parseCommandLine } from "@grpomesh/config";
import { BENCHES, BENCH_ENV_PREFIX, benchUsage } from "./registry.ts";

const [name, ...argv] = process.argv.slice(2);
const bench = name === undefined ? undefined : BENCHES[name];
if (!bench) {
  console.error(name === undefined || name === "--help" ? benchUsage() : `unknown bench "${name}"\n${benchUsage()}`);
  process.exit(name === "--help" ? 0 : 2);
}
const { config } = parseCommandLine(bench.settings, `npm run bench -- ${name}`, { argv, check: bench.check, envPrefix: BENCH_ENV_PREFIX });
try {
  await (await bench.load()).run(config);
} catch (err) {
  console.error(`bench ${name}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
