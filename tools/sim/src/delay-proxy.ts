// A TCP proxy that delays every byte by a fixed time in each direction: the added latency of a
// link between `npm run sim`'s hosts (this kernel has no `tc netem`). Chunks keep their order
// (each is written `delayMs` after it arrived, and arrivals are in order); an end or an error on
// one side reaches the other side after the data before it.
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

export interface DelayProxyOptions {
  /** Where to listen: host and port (0: any free port). */
  listenHost: string;
  listenPort: number;
  /** Where to forward to. */
  targetHost: string;
  targetPort: number;
  /** One-way delay added to each direction, milliseconds (0: forward at once). */
  delayMs: number;
}

export interface DelayProxy {
  /** The port it listens on. */
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes forwarded so far, both directions. */
  readonly bytes: number;
  close(): Promise<void>;
}

export async function startDelayProxy(o: DelayProxyOptions): Promise<DelayProxy> {
  if (!(Number.isFinite(o.delayMs) && o.delayMs >= 0)) throw new Error(`delay is ${o.delayMs} ms; expected a number ≥ 0`);
  const sockets = new Set<Socket>();
  const stats = { connections: 0, bytes: 0 };
  const server: Server = createServer((client) => {
    stats.connections++;
    const upstream = connect({ host: o.targetHost, port: o.targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => sockets.delete(s));
    }
    pipeDelayed(client, upstream, o.delayMs, stats);
    pipeDelayed(upstream, client, o.delayMs, stats);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.listenPort, o.listenHost, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return stats.connections;
    },
    get bytes() {
      return stats.bytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Forwards `from` → `to`, each chunk `delayMs` after it arrived; the end and errors follow the data. */
function pipeDelayed(from: Socket, to: Socket, delayMs: number, stats: { bytes: number }): void {
  const later = (fn: () => void) => (delayMs > 0 ? setTimeout(fn, delayMs) : setImmediate(fn));
  from.on("data", (chunk: Buffer) => {
    later(() => {
      if (to.destroyed) return;
      stats.bytes += chunk.length;
      if (!to.write(chunk)) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    });
  });
  from.on("end", () => later(() => to.end()));
  from.on("error", () => later(() => to.destroy()));
  from.on("close", () => later(() => to.destroy()));
}
