// Health check for the service images: one grpc.health.v1 Check against the container's own gRPC
// port. Exit 0 when the answer is SERVING, 1 otherwise, saying why on stderr; 2 for bad usage.
// Plain JavaScript so a check costs a bare node start, not a tsx one. The images' HEALTHCHECK runs
// it in plaintext; the Kubernetes manifests run it as exec probes with --tls_dir (the pod's own
// certificate, which names localhost), since the kubelet's gRPC probes cannot speak TLS.
// usage: node deploy/images/healthcheck.mjs [host:port] [service] [deadline-ms] [--tls_dir=DIR]
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

const USAGE = "usage: node deploy/images/healthcheck.mjs [host:port] [service] [deadline-ms] [--tls_dir=DIR]";
const positional = [];
let tlsDir = "";
for (const arg of process.argv.slice(2)) {
  const m = /^--(tls[_-]dir)=(.*)$/.exec(arg);
  if (m) tlsDir = m[2];
  else if (arg.startsWith("--")) {
    console.error(`healthcheck: unknown option ${JSON.stringify(arg.slice(0, 200))}; ${USAGE}`);
    process.exit(2);
  } else positional.push(arg);
}
const [target = "127.0.0.1:50051", serviceName = "", deadlineArg = "3000"] = positional;
const deadlineMs = Number(deadlineArg);
if (!/^[^:]+:\d+$/.test(target) && !/^\[.+\]:\d+$/.test(target)) {
  console.error(`healthcheck: target ${JSON.stringify(target)} is not host:port; ${USAGE}`);
  process.exit(2);
}
if (!Number.isInteger(deadlineMs) || deadlineMs <= 0) {
  console.error(`healthcheck: deadline ${JSON.stringify(deadlineArg)} is not a positive number of milliseconds`);
  process.exit(2);
}

/** TLS credentials from a folder laid out as a Kubernetes TLS Secret (tls.crt, tls.key, ca.crt). */
function credentials(dir) {
  if (!dir) return grpc.credentials.createInsecure();
  const read = (file) => {
    const path = join(dir, file);
    if (!existsSync(path)) {
      console.error(`healthcheck: --tls_dir=${dir} has no ${file}; expected tls.crt, tls.key and ca.crt (a Kubernetes TLS Secret)`);
      process.exit(2);
    }
    return readFileSync(path);
  };
  return grpc.credentials.createSsl(read("ca.crt"), read("tls.key"), read("tls.crt"));
}

const Health = grpc.makeGenericClientConstructor(healthService, "Health");
// A loopback IP as the TLS server name draws a warning from node (RFC 6066 forbids IPs there);
// check the certificate for "localhost" instead, which the manifests' certificates carry too.
const loopbackIp = /^(127\.0\.0\.1|\[::1\]):\d+$/.test(target);
const client = new Health(target, credentials(tlsDir), tlsDir && loopbackIp ? { "grpc.ssl_target_name_override": "localhost" } : {});
client.Check({ service: serviceName }, { deadline: Date.now() + deadlineMs }, (err, res) => {
  client.close();
  if (err) {
    console.error(`healthcheck: ${target} service ${JSON.stringify(serviceName)}: ${err.details || err.message}`);
    process.exit(1);
  }
  if (res.status !== "SERVING") {
    console.error(`healthcheck: ${target} service ${JSON.stringify(serviceName)} is ${res.status}`);
    process.exit(1);
  }
  process.exit(0);
});
