// A tiny service process for the supervisor's tests: a real gRPC server (health only) that answers
// SERVING at once, prints its start line only after --line-delay-ms, and can exit on its own.
// Flags: --address=host:port, --line-delay-ms=N, --exit-after-ms=N (after the start line), --exit-code=N,
// --starts-file=FILE (appends the time of each start), --on-term-file=FILE (appends "<name> stopped <time>" on SIGTERM/SIGINT),
// --name=NAME, --term-delay-ms=N (how long it takes to stop).
import { appendFileSync } from "node:fs";
import { startServer } from "@grpomesh/rpc";

const flags = new Map(process.argv.slice(2).map((a) => /^--([a-z-]+)=(.*)$/.exec(a)!.slice(1, 3) as [string, string]));
const name = flags.get("name") ?? "line";
const number = (key: string, fallback: number) => (flags.has(key) ? Number(flags.get(key)) : fallback);

if (flags.has("starts-file")) appendFileSync(flags.get("starts-file")!, `${Date.now()}\n`);
const server = flags.has("address") ? await startServer({ address: flags.get("address")!, services: [] }) : undefined;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    setTimeout(
      () => {
        if (flags.has("on-term-file")) appendFileSync(flags.get("on-term-file")!, `${name} stopped ${signal} ${Date.now()}\n`);
        void server?.shutdown(100).then(() => process.exit(number("exit-code", 0)));
        if (!server) process.exit(number("exit-code", 0));
      },
      number("term-delay-ms", 0),
    );
  });
}
setTimeout(
  () => {
    console.log(`${name}: serving address=${server?.address ?? "none"} note="two words"`);
    if (flags.has("exit-after-ms")) setTimeout(() => process.exit(number("exit-code", 0)), number("exit-after-ms", 0));
  },
  number("line-delay-ms", 0),
);
setInterval(() => {}, 1_000);
