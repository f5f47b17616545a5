// The delaying proxy as a process (`npm run sim` starts one inside a host's network namespace):
//   node --import tsx tools/sim/src/proxy-main.ts --delay_ms=5 127.0.0.1:0=10.77.0.2:50061 …
// Each argument maps a listen address to a target; it prints one `proxy: serving LISTEN -> TARGET`
// line per mapping (with the port it got), then runs until SIGTERM.
import { startDelayProxy, type DelayProxy } from "./delay-proxy.ts";

const hostPort = (s: string, what: string): [string, number] => {
  const m = /^(.+):(\d+)$/.exec(s);
  if (!m) throw new Error(`${what} ${JSON.stringify(s.slice(0, 100))} is not HOST:PORT`);
  return [m[1]!, Number(m[2])];
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const delayArg = args.find((a) => a.startsWith("--delay_ms="));
  const delayMs = delayArg ? Number(delayArg.slice("--delay_ms=".length)) : 0;
  const maps = args.filter((a) => !a.startsWith("--"));
  if (maps.length === 0) throw new Error("usage: proxy-main.ts --delay_ms=MS LISTEN_HOST:PORT=TARGET_HOST:PORT …");
  const proxies: DelayProxy[] = [];
  for (const m of maps) {
    const [listen, target] = m.split("=");
    const [lh, lp] = hostPort(listen ?? "", "listen address");
    const [th, tp] = hostPort(target ?? "", "target");
    const p = await startDelayProxy({ listenHost: lh, listenPort: lp, targetHost: th, targetPort: tp, delayMs });
    proxies.push(p);
    console.log(`proxy: serving ${lh}:${p.port} -> ${th}:${tp} delay_ms=${delayMs}`);
  }
  const stop = () => void Promise.all(proxies.map((p) => p.close())).then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(`proxy: ${(err as Error).message}`);
  process.exit(1);
});
