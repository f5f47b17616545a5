import { status as Status } from "@grpc/grpc-js";

export { Status };

/** An error that carries the gRPC status a handler wants the caller to see. */
export class RpcError extends Error {
  readonly code: Status;
  constructor(code: Status, message: string) {
    super(message);
    this.name = "RpcError";
    this.code = code;
  }
}

export const invalidArgument = (message: string) => new RpcError(Status.INVALID_ARGUMENT, message);
export const failedPrecondition = (message: string) => new RpcError(Status.FAILED_PRECONDITION, message);
export const resourceExhausted = (message: string) => new RpcError(Status.RESOURCE_EXHAUSTED, message);
export const notFound = (message: string) => new RpcError(Status.NOT_FOUND, message);
export const unavailable = (message: string) => new RpcError(Status.UNAVAILABLE, message);
export const aborted = (message: string) => new RpcError(Status.ABORTED, message);
export const permissionDenied = (message: string) => new RpcError(Status.PERMISSION_DENIED, message);

/**
 * The gRPC status for any thrown value: an RpcError keeps its code, an error that declares a
 * numeric `grpcCode` (libraries may do so without importing grpc) uses it, anything else is INTERNAL.
 */
export function statusOf(err: unknown): { code: Status; message: string } {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  if (err && typeof err === "object") {
    const e = err as { grpcCode?: unknown; message?: unknown };
    const message = typeof e.message === "string" ? e.message : String(err);
    if (typeof e.grpcCode === "number" && Status[e.grpcCode] !== undefined) return { code: e.grpcCode as Status, message };
    return { code: Status.INTERNAL, message };
  }
  return { code: Status.INTERNAL, message: String(err) };
}

/** Runs `fn`, turning any error it throws into INVALID_ARGUMENT (for input decoding at the edge). */
export function asInvalidArgument<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw invalidArgument(err instanceof Error ? err.message : String(err));
  }
}

/** Longest status message a server sends (HTTP/2 trailers are small; messages echo inputs). */
export const MAX_STATUS_MESSAGE_CHARS = 2048;

/** A message cut to `max` characters, saying how much was left out. */
export function truncateMessage(message: string, max = MAX_STATUS_MESSAGE_CHARS): string {
  if (message.length <= max) return message;
  return `${message.slice(0, max)}… (${message.length - max} more characters)`;
}

/**
 * A value from a request, quoted for an error message and cut to `max` characters: messages
 * name what was sent without echoing a megabyte of it back.
 */
export function echo(value: string, max = 200): string {
  const quoted = JSON.stringify(value.length > max ? value.slice(0, max) : value);
  return value.length > max ? `${quoted}… (${value.length} characters)` : quoted;
}

export function statusName(code: number): string {
  return Status[code] ?? `CODE_${code}`;
}
