// One hostile call on a raw grpc-js channel (the bytes go out as they are, no serializer checks
// them), and the rules its answer must keep.
import * as grpc from "@grpc/grpc-js";
import { AUTHORIZATION_HEADER, Status, channelCredentials, statusName, type Security } from "@grpomesh/rpc";
import { isAdminMethod, SERVICES, type Auth, type HostileRequest, type ServiceName } from "./cases.ts";

/** Longest status message accepted: the services cap theirs at 2048 characters (plus a note of what was cut). */
export const MAX_MESSAGE_CHARS = 2100;
/** How much later than its deadline a call may return before it counts as hung. */
export const DEADLINE_SLACK_MS = 2_000;

/** Refusals that say what was wrong with the request. */
const REFUSALS = new Set<Status>([
  Status.INVALID_ARGUMENT,
  Status.NOT_FOUND,
  Status.ALREADY_EXISTS,
  Status.PERMISSION_DENIED,
  Status.RESOURCE_EXHAUSTED,
  Status.FAILED_PRECONDITION,
  Status.OUT_OF_RANGE,
]);

/**
 * Bytes that are not the method's message are bad input like any other: libs/rpc answers them
 * INVALID_ARGUMENT naming the message type (after the admin check, so an unauthenticated caller
 * learns nothing about parsing). No INTERNAL is accepted.
 */
const UNDECODABLE_DETAILS = /^the request is not a valid grpomesh\.v1\.\w+ message \(/;

export interface CallResult {
  code: Status;
  details: string;
  latencyMs: number;
}

export interface HostileCall {
  service: ServiceName;
  method: string;
  label: string;
  auth: Auth;
  deadlineMs: number;
  request: HostileRequest;
}

/** Raw channels to each service: bytes in, bytes out. */
export class RawClients {
  private readonly clients = new Map<ServiceName, grpc.Client>();
  constructor(
    private readonly targets: Record<ServiceName, string>,
    private readonly security: Security,
  ) {}

  private client(service: ServiceName): grpc.Client {
    let c = this.clients.get(service);
    if (!c) {
      c = new grpc.Client(this.targets[service], channelCredentials(this.security), {
        "grpc.max_send_message_length": -1,
        "grpc.max_receive_message_length": -1,
      });
      this.clients.set(service, c);
    }
    return c;
  }

  metadata(auth: Auth): grpc.Metadata {
    const md = new grpc.Metadata();
    const token = this.security.adminToken;
    if (!token) throw new Error("the hostile run needs the admin token (createLocalCredentials)");
    if (auth === "admin") md.set(AUTHORIZATION_HEADER, `Bearer ${token}`);
    if (auth === "wrong") md.set(AUTHORIZATION_HEADER, `Bearer ${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`);
    if (auth === "malformed") md.set(AUTHORIZATION_HEADER, `Basic ${token}`);
    return md;
  }

  call(c: HostileCall): Promise<CallResult> {
    const desc = SERVICES[c.service];
    const path = `/${desc.typeName}/${c.method}`;
    const started = performance.now();
    return new Promise((resolve) => {
      this.client(c.service).makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(c.request.body.buffer, c.request.body.byteOffset, c.request.body.byteLength),
        this.metadata(c.auth),
        { deadline: Date.now() + c.deadlineMs },
        (err) => {
          const latencyMs = performance.now() - started;
          if (err) resolve({ code: err.code ?? Status.UNKNOWN, details: err.details ?? err.message, latencyMs });
          else resolve({ code: Status.OK, details: "", latencyMs });
        },
      );
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** The statuses a call may end with. */
export function allowedCodes(c: HostileCall): Set<Status> {
  const r = c.request;
  if (r.oversized) return new Set([Status.RESOURCE_EXHAUSTED]);
  if (isAdminMethod(c.service, c.method) && c.auth !== "admin") return new Set([c.auth === "wrong" ? Status.PERMISSION_DENIED : Status.UNAUTHENTICATED]);
  if (r.undecodable) return new Set([Status.INVALID_ARGUMENT]);
  const codes = new Set(REFUSALS);
  if (!r.mustRefuse) codes.add(Status.OK);
  return codes;
}

/** What is wrong with an answer, or [] when it keeps every rule. */
export function violations(c: HostileCall, res: CallResult): string[] {
  const out: string[] = [];
  const allowed = allowedCodes(c);
  if (res.code === Status.DEADLINE_EXCEEDED) out.push(`no answer within its ${c.deadlineMs} ms deadline (hang)`);
  else if (!allowed.has(res.code)) out.push(`status ${statusName(res.code)}; expected ${[...allowed].map(statusName).join(" or ")}`);
  if (res.code === Status.INTERNAL) out.push("INTERNAL (an unexpected error, not a refusal)");
  if (c.request.undecodable && res.code === Status.INVALID_ARGUMENT && !UNDECODABLE_DETAILS.test(res.details))
    out.push(`undecodable bytes answered without naming the message type: ${res.details.slice(0, 120)}`);
  if (res.latencyMs > c.deadlineMs + DEADLINE_SLACK_MS) out.push(`returned after ${Math.round(res.latencyMs)} ms, past its ${c.deadlineMs} ms deadline`);
  if (res.details.length > MAX_MESSAGE_CHARS) out.push(`message of ${res.details.length} characters (at most ${MAX_MESSAGE_CHARS})`);
  if (/\n\s+at /.test(res.details) || /^\s*at .+:\d+:\d+\)?$/m.test(res.details)) out.push("message carries a stack trace");
  if (/\/(src|node_modules|dist)\/[^\s'"]*\.(ts|js|mjs)(:\d+)?/.test(res.details)) out.push("message names a source file");
  for (const s of c.request.echoes) if (res.details.includes(s.slice(0, 256))) out.push(`message echoes ${s.length} characters of the request untruncated`);
  return out;
}
