// A service process for service-main.test.ts: a real gRPC server with health only, run by
// runServiceMain. Settings: --address=host:port (HEALTH_ONLY_ADDRESS), --fail_start=reason (start throws), --help.
import { setting, z } from "@grpomesh/config";
import { runServiceMain } from "../service-main.ts";
import { startServer } from "../server.ts";

await runServiceMain({
  name: "health-only",
  settings: {
    address: setting(z.string().min(1), "127.0.0.1:0", "gRPC listen address"),
    fail_start: setting(z.string(), "", "start throws this reason"),
  },
  envPrefix: "HEALTH_ONLY_",
  command: "health-only-main.ts",
  async start(config) {
    if (config.fail_start) throw new Error(config.fail_start);
    return startServer({ address: config.address, services: [] });
  },
  startFields: (s) => [
    ["address", s.address],
    ["note", "two words"],
  ],
  graceMs: 1_000,
});
