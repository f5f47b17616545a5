// Typed promise clients for protobuf-es services over grpc-js: channel options in one object,
// a deadline on every call, errors that name the method and the target.
import * as grpc from "@grpc/grpc-js";
import { create, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { service as healthServiceDefinition } from "grpc-health-check";
import { methodDefinition } from "./adapter.ts";
import { Status, statusName } from "./errors.ts";
import { INSECURE, adminMetadata, targetCredentials, type Security } from "./security.ts";

export interface ClientOptions {
  /** Default deadline for every call (ms). */
  deadlineMs?: number;
  /** "pick_first" (default) or "round_robin" over every address the target resolves to. */
  loadBalancing?: "pick_first" | "round_robin";
  maxMessageBytes?: number;
  channelOptions?: grpc.ChannelOptions;
  /** TLS (and mTLS) credentials and the admin token sent with every call (default: plaintext, no token). */
  security?: Security;
  /**
   * The name the server's certificate must carry when it differs from the target's host: a judge
   * dialled by pod IP, found through a headless Service, presents the Service's name.
   */
  tlsServerName?: string;
}

export interface CallOptions {
  deadlineMs?: number;
  metadata?: grpc.Metadata;
}

export class RpcCallError extends Error {
  readonly code: Status;
  readonly details: string;
  constructor(code: Status, details: string, where: string) {
    super(`${where} failed with ${statusName(code)}: ${details}`);
    this.name = "RpcCallError";
    this.code = code;
    this.details = details;
  }
}

export type Client<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (request: MessageInitShape<I>, opts?: CallOptions) => Promise<MessageShape<O>>
    : never;
} & { readonly target: string; readonly grpcClient: grpc.Client; close(): void };

export const DEFAULT_DEADLINE_MS = 30_000;

/** Channel options used by every client: keepalive, message limits, reconnect backoff. */
export function channelOptions(opts: ClientOptions = {}): grpc.ChannelOptions {
  const maxBytes = opts.maxMessageBytes ?? 64 * 1024 * 1024;
  return {
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": maxBytes,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 5_000,
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ [opts.loadBalancing ?? "pick_first"]: {} }] }),
    ...opts.channelOptions,
  };
}

/**
 * A client for `service` at `target`: "host:port", "ipv4:a:p1,b:p2" (a static list), or
 * "dns:///name:port" (a headless Service on Kubernetes).
 */
export function createClient<S extends DescService>(service: S, target: string, opts: ClientOptions = {}): Client<S> {
  const security = opts.security ?? INSECURE;
  const tls = targetCredentials(target, security, opts.tlsServerName);
  const grpcClient = new grpc.Client(target, tls.credentials, { ...channelOptions(opts), ...tls.options });
  const credentialMetadata = adminMetadata(security);
  const client: Record<string, unknown> = {
    target,
    grpcClient,
    close: () => grpcClient.close(),
  };
  for (const method of service.methods) {
    const def = methodDefinition(service, method);
    const where = `${service.name}.${method.name} at ${target}`;
    client[method.localName] = (request: MessageInitShape<DescMessage>, callOpts: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + (callOpts.deadlineMs ?? opts.deadlineMs ?? DEFAULT_DEADLINE_MS);
        grpcClient.makeUnaryRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          create(method.input, request),
          withCredential(callOpts.metadata, credentialMetadata),
          { deadline },
          (err, value) => {
            if (err) reject(new RpcCallError(err.code ?? Status.UNKNOWN, err.details ?? err.message, where));
            else resolve(value);
          },
        );
      });
  }
  return client as Client<S>;
}

/** The call's metadata plus the admin token, unless the call sets its own authorization. */
function withCredential(metadata: grpc.Metadata | undefined, credential: grpc.Metadata): grpc.Metadata {
  const md = metadata?.clone() ?? new grpc.Metadata();
  for (const [key, value] of Object.entries(credential.getMap())) if (md.get(key).length === 0) md.set(key, value);
  return md;
}

const HealthClient = grpc.makeGenericClientConstructor(healthServiceDefinition as grpc.ServiceDefinition, "Health");

/**
 * One grpc.health.v1 Check: "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", or throws on transport errors.
 * `tlsServerName`: the name the server's certificate must carry when it is not the target's host (ClientOptions).
 */
export function checkHealth(target: string, service = "", deadlineMs = 2_000, security: Security = INSECURE, tlsServerName?: string): Promise<string> {
  const tls = targetCredentials(target, security, tlsServerName);
  const client = new HealthClient(target, tls.credentials, tls.options);
  return new Promise<string>((resolve, reject) => {
    (client as unknown as { check: Function }).check(
      { service },
      { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null, res: { status: string }) => {
        client.close();
        if (err) reject(new RpcCallError(err.code, err.details, `health check of ${target}`));
        else resolve(res.status);
      },
    );
  });
}

/** Polls the health service until it answers SERVING, or fails after timeoutMs with the last answer. */
export async function waitForServing(
  target: string,
  {
    timeoutMs = 30_000,
    service = "",
    intervalMs = 200,
    security = INSECURE,
    tlsServerName,
  }: { timeoutMs?: number; service?: string; intervalMs?: number; security?: Security; tlsServerName?: string } = {},
): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < until) {
    try {
      last = await checkHealth(target, service, Math.min(2_000, Math.max(100, until - Date.now())), security, tlsServerName);
      if (last === "SERVING") return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${target} did not become SERVING within ${timeoutMs} ms (last: ${last})`);
}
