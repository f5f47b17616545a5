// A service process for service-main.test.ts: a real gRPC server with health only, run by
// runServiceMain. Flags: --address=host:port, --fail-start=reason (start throws), --help.
import { runServiceMain } from "../service-main.ts";
import { startServer } from "../server.ts";

interface Config {
  address: string;
  failStart: string | null;
}

await runServiceMain({
  name: "health-only",
  parse(argv, env) {
    if (argv.includes("--help")) return { help: true };
    const config: Config = { address: env.HEALTH_ONLY_ADDRESS ?? "127.0.0.1:0", failStart: null };
    for (const arg of argv) {
      const [, key, value] = /^--([a-z-]+)=(.*)$/.exec(arg) ?? [];
      if (key === "address") config.address = value!;
      else if (key === "fail-start") config.failStart = value!;
      else throw new Error(`unknown flag ${arg}`);
    }
    return { config, help: false };
  },
  usage: () => "usage: health-only-main.ts [--address=host:port] [--fail-start=reason]",
  async start(config) {
    if (config.failStart) throw new Error(config.failStart);
    return startServer({ address: config.address, services: [] });
  },
  startFields: (s) => [
    ["address", s.address],
    ["note", "two words"],
  ],
  graceMs: 1_000,
});
