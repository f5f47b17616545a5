// A service that finishes by itself, for service-main.test.ts: runServiceMain with `done` and `stop`.
// Flags: --exit_code=N (finishes with N after 50 ms), --fail=reason (the run fails), --stuck (a stop
// is acknowledged but the run never ends, so only a second signal ends the process). Without
// --exit_code or --fail it runs until stopped, then finishes with 130. Its start line is its own.
import { setting, z } from "@grpomesh/config";
import { runServiceMain } from "../service-main.ts";

await runServiceMain({
  name: "finishing",
  settings: {
    exit_code: setting(z.int().min(-1), -1, "finish with this code after 50 ms; -1: run until stopped"),
    fail: setting(z.string(), "", "the run fails with this reason after 50 ms"),
    stuck: setting(z.boolean(), false, "a stop is acknowledged but the run never ends"),
  },
  envPrefix: "FINISHING_",
  command: "finishing-main.ts",
  async start(config) {
    let stopped = () => {};
    const done = new Promise<number>((resolve, reject) => {
      if (config.exit_code >= 0) setTimeout(() => resolve(config.exit_code), 50);
      else if (config.fail) setTimeout(() => reject(new Error(config.fail)), 50);
      else {
        const keepAlive = setInterval(() => {}, 1_000);
        stopped = () => {
          if (config.stuck) return;
          clearInterval(keepAlive);
          setTimeout(() => resolve(130), 50);
        };
      }
    });
    return {
      done,
      stop: (signal: string) => {
        console.log(`[finishing] ${signal}: stopping at the next safe point`);
        stopped();
      },
      shutdown: async () => {},
    };
  },
  prefix: "[finishing]",
  startLine: () => "[finishing] started",
  done: (s) => s.done,
  stop: (s, signal) => s.stop(signal),
  graceMs: 1_000,
});
