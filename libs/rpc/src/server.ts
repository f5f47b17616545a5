// A grpc-js server that serves protobuf-es services plus the standard health service and server
// reflection, and reports every call's outcome and duration to an optional observer (metrics).
import * as grpc from "@grpc/grpc-js";
import { create, toBinary, type DescFile, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import { ReflectionService } from "@grpc/reflection";
import { methodDefinition } from "./adapter.ts";
import { invalidArgument, statusOf, Status, truncateMessage } from "./errors.ts";
import { INSECURE, checkAdmin, serverCredentials, type Security } from "./security.ts";

export interface CallContext {
  /** Method name as in the proto, e.g. "Score". */
  method: string;
  metadata: grpc.Metadata;
  peer: string;
  /** Absolute deadline the client set, or Infinity. */
  deadline: Date | number;
  /** True once the client cancelled or the deadline passed. */
  cancelled(): boolean;
}

type Handler<I extends DescMessage, O extends DescMessage> = (request: MessageShape<I>, ctx: CallContext) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** The handlers of a service: one per method, keyed by local (camelCase) name. */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends { input: infer I extends DescMessage; output: infer O extends DescMessage } ? Handler<I, O> : never;
};

export interface ServiceBinding {
  service: DescService;
  handlers: Record<string, Handler<DescMessage, DescMessage>>;
  /** Proto names of the state-changing methods: they need the admin credential (libs/rpc/security). */
  adminMethods: ReadonlySet<string>;
}

/**
 * Pairs a service with its handlers. `adminMethods` names (as in the proto) every method that
 * changes state — required, so no service forgets to say — and the server refuses those without
 * the admin credential before the handler runs.
 */
export function bindService<S extends DescService>(service: S, handlers: ServiceHandlers<S>, adminMethods: readonly string[]): ServiceBinding {
  for (const name of adminMethods) {
    if (!service.methods.some((m) => m.name === name)) throw new Error(`${service.typeName} has no method ${name} to mark as admin`);
  }
  return { service, handlers: handlers as unknown as ServiceBinding["handlers"], adminMethods: new Set(adminMethods) };
}

export interface CallRecord {
  service: string;
  method: string;
  code: Status;
  seconds: number;
}

export interface ServerOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  services: ServiceBinding[];
  /** Largest request accepted; larger ones fail with RESOURCE_EXHAUSTED. Default 64 MiB. */
  maxReceiveMessageBytes?: number;
  maxSendMessageBytes?: number;
  /** Health status at start (default SERVING). Services that load a model start NOT_SERVING. */
  initiallyServing?: boolean;
  onCall?: (record: CallRecord) => void;
  /** Extra grpc-js server options. */
  grpcOptions?: grpc.ServerOptions;
  /** TLS and the admin credential (default: plaintext, state-changing RPCs refused). */
  security?: Security;
}

export interface RunningServer {
  server: grpc.Server;
  port: number;
  /** "host:port" with the bound port. */
  address: string;
  health: HealthImplementation;
  setServing(serving: boolean): void;
  shutdown(graceMs?: number): Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": opts.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": opts.maxSendMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    ...opts.grpcOptions,
  });
  const security = opts.security ?? INSECURE;
  for (const binding of opts.services) addService(server, binding, security, opts.onCall);

  const names = ["", ...opts.services.map((b) => b.service.typeName)];
  const statusOfAll = (serving: boolean): ServingStatus => (serving ? "SERVING" : "NOT_SERVING");
  const initial = statusOfAll(opts.initiallyServing ?? true);
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, initial])));
  health.addToServer(server);
  new ReflectionService(reflectionPackageDefinition(opts.services.map((b) => b.service))).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(opts.address, serverCredentials(security), (err, boundPort) => {
      if (err) reject(new Error(`cannot listen on ${opts.address}: ${err.message}`));
      else resolve(boundPort);
    });
  });
  const host = opts.address.slice(0, opts.address.lastIndexOf(":"));
  return {
    server,
    port,
    address: `${host}:${port}`,
    health,
    setServing(serving) {
      for (const n of names) health.setStatus(n, statusOfAll(serving));
    },
    shutdown(graceMs = 2000) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** What a request whose bytes do not decode becomes, so the handler wrapper can answer it. */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

function addService(server: grpc.Server, binding: ServiceBinding, security: Security, onCall?: (r: CallRecord) => void): void {
  const { service, handlers, adminMethods } = binding;
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = handlers[method.localName];
    if (typeof handler !== "function") throw new Error(`${service.typeName}: no handler for ${method.name}`);
    const strict = methodDefinition(service, method);
    // Bytes that are not the method's message reach the handler wrapper as an UndecodableRequest,
    // so they are answered INVALID_ARGUMENT like any other bad input (after the admin check).
    definition[method.localName] = {
      ...strict,
      requestDeserialize: (buf: Buffer) => {
        try {
          return strict.requestDeserialize(buf);
        } catch (err) {
          return new UndecodableRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
    implementation[method.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = process.hrtime.bigint();
      const finish = (code: Status) =>
        onCall?.({ service: service.typeName, method: method.name, code, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      const ctx: CallContext = {
        method: method.name,
        metadata: call.metadata,
        peer: call.getPeer(),
        deadline: call.getDeadline(),
        cancelled: () => call.cancelled,
      };
      Promise.resolve()
        .then(() => {
          if (adminMethods.has(method.name)) checkAdmin(security, call.metadata, `${service.name}.${method.name}`);
          if (call.request instanceof UndecodableRequest) {
            throw invalidArgument(`the request is not a valid ${method.input.typeName} message (${call.request.reason}); send the message the proto defines`);
          }
          return handler(call.request as MessageShape<DescMessage>, ctx);
        })
        .then(
          (result) => {
            finish(Status.OK);
            callback(null, create(method.output, result as MessageInitShape<DescMessage>));
          },
          (err: unknown) => {
            const { code, message } = statusOf(err);
            if (code === Status.INTERNAL) console.error(`[${service.typeName}/${method.name}] internal error:`, err);
            finish(code);
            // Bounded: a message that echoes a huge input must not overflow the HTTP/2 trailers.
            callback({ code, details: truncateMessage(message), metadata: new grpc.Metadata() });
          },
        );
    };
  }
  server.addService(definition as grpc.ServiceDefinition, implementation);
}

/**
 * @grpc/reflection reads `fileDescriptorProtos` (serialized FileDescriptorProto) from a
 * proto-loader style package definition; protobuf-es already holds those descriptors.
 */
function reflectionPackageDefinition(services: DescService[]) {
  const seen = new Map<string, Buffer>();
  const visit = (file: DescFile) => {
    if (seen.has(file.proto.name)) return;
    const bytes = toBinary(FileDescriptorProtoSchema, file.proto);
    seen.set(file.proto.name, Buffer.from(bytes));
    file.dependencies.forEach(visit);
  };
  services.forEach((s) => visit(s.file));
  const fileDescriptorProtos = [...seen.values()];
  return Object.fromEntries(services.map((s) => [s.typeName, { fileDescriptorProtos }])) as never;
}
