// Prometheus metrics shared by every service: one registry per process, the Triton-style RPC
// counters and latency histogram fed by the rpc server's call observer, and a /metrics endpoint.
import { createServer, type Server } from "node:http";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The shape of libs/rpc's CallRecord (kept structural so metrics does not depend on rpc). */
export interface CallObservation {
  service: string;
  method: string;
  code: number;
  seconds: number;
}

export interface ServiceMetrics {
  registry: Registry;
  /** Pass as `onCall` to startServer. */
  observeCall(record: CallObservation): void;
}

export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Registry with process metrics and `<prefix>_request_success_total{method}`,
 * `<prefix>_request_failure_total{method,code}` and `<prefix>_request_duration_seconds{method}`.
 */
export function createMetrics(prefix: string, opts: { defaultMetrics?: boolean } = {}): ServiceMetrics {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`metric prefix "${prefix}" must match [a-z_][a-z0-9_]*`);
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: `${prefix}_` });
    // prom-client names three gauges *_total, which Prometheus keeps for counters (promtool check
    // metrics flags them); the same numbers, by type, are the gauges without the suffix.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      registry.removeSingleMetric(`${prefix}_${name}`);
    }
  }
  const success = new Counter({
    name: `${prefix}_request_success_total`,
    help: "Requests answered OK, by method.",
    labelNames: ["method"],
    registers: [registry],
  });
  const failure = new Counter({
    name: `${prefix}_request_failure_total`,
    help: "Requests answered with an error, by method and gRPC status code name.",
    labelNames: ["method", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: `${prefix}_request_duration_seconds`,
    help: "Time from request arrival to response, by method.",
    labelNames: ["method"],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });
  return {
    registry,
    observeCall(r) {
      if (r.code === 0) success.inc({ method: r.method });
      else failure.inc({ method: r.method, code: GRPC_CODE_NAMES[r.code] ?? String(r.code) });
      duration.observe({ method: r.method }, r.seconds);
    },
  };
}

const GRPC_CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (Prometheus text format) and `GET /healthz`. Port 0 picks a free port. */
export function startMetricsServer(opts: { port: number; host?: string; registry: Registry }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      opts.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": opts.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
    } else if (req.method === "GET" && path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found: try /metrics\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`cannot serve metrics on ${opts.host ?? "127.0.0.1"}:${opts.port}: ${err.message}`)));
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : opts.port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
