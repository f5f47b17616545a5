// A service that finishes by itself, for service-main.test.ts: runServiceMain with `done` and `stop`.
// Flags: --exit-code=N (finishes with N after 50 ms), --fail=reason (the run fails), --stuck (a stop
// is acknowledged but the run never ends, so only a second signal ends the process). Without
// --exit-code or --fail it runs until stopped, then finishes with 130. Its start line is its own.
import { runServiceMain } from "../service-main.ts";

interface Config {
  exitCode: number | null;
  fail: string | null;
  stuck: boolean;
}

await runServiceMain({
  name: "finishing",
  parse(argv) {
    const config: Config = { exitCode: null, fail: null, stuck: false };
    for (const arg of argv) {
      const [, key, value] = /^--([a-z-]+)(?:=(.*))?$/.exec(arg) ?? [];
      if (key === "exit-code") config.exitCode = Number(value);
      else if (key === "fail") config.fail = value!;
      else if (key === "stuck") config.stuck = true;
      else throw new Error(`unknown flag ${arg}`);
    }
    return { config, help: false };
  },
  usage: () => "usage: finishing-main.ts [--exit-code=N] [--fail=reason] [--stuck]",
  async start(config) {
    let stopped = () => {};
    const done = new Promise<number>((resolve, reject) => {
      if (config.exitCode !== null) setTimeout(() => resolve(config.exitCode!), 50);
      else if (config.fail !== null) setTimeout(() => reject(new Error(config.fail!)), 50);
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
