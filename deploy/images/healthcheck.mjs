// Docker HEALTHCHECK for the service images: one grpc.health.v1 Check against the container's own
// gRPC port. Exit 0 when the answer is SERVING, 1 otherwise, saying why on stderr. Plain JavaScript
// so a check costs a bare node start, not a tsx one. (Kubernetes uses its native gRPC probes.)
// usage: node deploy/images/healthcheck.mjs [host:port] [service] [deadline-ms]
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

const [target = "127.0.0.1:50051", serviceName = "", deadlineArg = "3000"] = process.argv.slice(2);
const deadlineMs = Number(deadlineArg);
if (!/^[^:]+:\d+$/.test(target) && !/^\[.+\]:\d+$/.test(target)) {
  console.error(`healthcheck: target ${JSON.stringify(target)} is not host:port; usage: node deploy/images/healthcheck.mjs [host:port] [service] [deadline-ms]`);
  process.exit(2);
}
if (!Number.isInteger(deadlineMs) || deadlineMs <= 0) {
  console.error(`healthcheck: deadline ${JSON.stringify(deadlineArg)} is not a positive number of milliseconds`);
  process.exit(2);
}

const Health = grpc.makeGenericClientConstructor(healthService, "Health");
const client = new Health(target, grpc.credentials.createInsecure());
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
