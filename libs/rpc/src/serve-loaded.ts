// A service whose model loads after the port opens: serve NOT_SERVING while loading (probes and
// /metrics answer), switch to SERVING once loaded, and on any failure close everything it opened.
import { startServer, type RunningServer, type ServerOptions } from "./server.ts";

export interface Closable {
  port: number;
  close(): Promise<void>;
}

export interface LoadedServiceOptions<E> extends Omit<ServerOptions, "initiallyServing"> {
  /** Starts the metrics endpoint, if any, before the load, so a slow load is observable. */
  startMetrics?: () => Promise<Closable | null>;
  /** Loads the model; handlers see it through the caller's own closure. */
  load(): Promise<E>;
  /** Frees the model on shutdown. */
  dispose?(model: E): void | Promise<void>;
}

export interface LoadedService<E> {
  rpc: RunningServer;
  model: E;
  metricsPort: number | null;
  /** NOT_SERVING, drain for up to graceMs, close metrics, free the model. */
  shutdown(graceMs?: number): Promise<void>;
}

export async function serveWhileLoading<E>(opts: LoadedServiceOptions<E>): Promise<LoadedService<E>> {
  const { startMetrics, load, dispose, ...serverOptions } = opts;
  const rpc = await startServer({ ...serverOptions, initiallyServing: false });
  let metrics: Closable | null = null;
  let model: E | undefined;
  const shutdown = async (graceMs = 2_000) => {
    rpc.setServing(false);
    await rpc.shutdown(graceMs);
    await metrics?.close();
    if (model !== undefined) await dispose?.(model);
  };
  try {
    metrics = (await startMetrics?.()) ?? null;
    model = await load();
  } catch (err) {
    await shutdown(0);
    throw err;
  }
  rpc.setServing(true);
  return { rpc, model, metricsPort: metrics?.port ?? null, shutdown };
}
