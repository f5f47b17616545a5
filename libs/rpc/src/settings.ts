// The settings every service shares, defined once and spread into each service's table
// (docs/configuration.md lists which roles read each). A light module: only the settings schema.
import { PORT_OR_OFF, setting, z } from "@grpomesh/config";

/** Credentials: the same two keys for every service and client (with its prefix: POLICY_TLS_DIR, …). */
export const SECURITY_SETTINGS = {
  tls_dir: setting(
    z.string(),
    "",
    "folder with tls.crt, tls.key and ca.crt (a Kubernetes TLS Secret); with ca.crt a server requires client certificates (mTLS); empty: plaintext",
  ),
  admin_token_file: setting(
    z.string(),
    "",
    "file holding the admin token that state-changing RPCs require (servers) or send (clients); empty: none, state-changing RPCs are refused",
  ),
};

const LISTEN = z.string().min(1);
const METRICS_HOST = setting(z.string().min(1), "127.0.0.1", "interface /metrics listens on (a pod passes 0.0.0.0 so Prometheus can scrape it)");

/** What a gRPC service listens on, /metrics included, and its credentials; each service gives its own default ports. */
export function serviceSettings(address: string, metricsPort: number | "off") {
  return {
    address: setting(LISTEN, address, "gRPC listen address host:port, loopback unless told otherwise (a pod passes 0.0.0.0:PORT); port 0 picks a free one"),
    metrics_port: setting(PORT_OR_OFF, metricsPort, "port of the Prometheus /metrics endpoint; 0 picks a free one, off: no endpoint"),
    metrics_host: METRICS_HOST,
    ...SECURITY_SETTINGS,
  };
}

export const MAX_MESSAGE_BYTES = setting(z.int().min(1), 64 * 1024 * 1024, "largest request in bytes (larger: RESOURCE_EXHAUSTED)");
