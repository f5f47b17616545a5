// `npm run bench -- <name> [--flag=value …]`: one entry point for every benchmark. Each bench is
// a module with `run(argv)`, imported only when asked for, so one bench's engines never load for another.
import { BENCHES, benchUsage } from "./registry.ts";

const [name, ...argv] = process.argv.slice(2);
const bench = name === undefined ? undefined : BENCHES[name];
if (!bench) {
  console.error(name === undefined || name === "--help" ? benchUsage() : `unknown bench "${name}"\n${benchUsage()}`);
  process.exit(name === "--help" ? 0 : 2);
}
try {
  await (await bench.load()).run(argv);
} catch (err) {
  console.error(`bench ${name}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
