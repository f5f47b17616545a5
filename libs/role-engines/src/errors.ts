// Errors that carry the gRPC status they deserve as a numeric `grpcCode`, which libs/rpc's
// statusOf reads; this library stays free of grpc imports.

/** The gRPC status codes the engines use (values from grpc's status enum). */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
} as const;

export type GrpcCodeValue = (typeof GrpcCode)[keyof typeof GrpcCode];

export class EngineError extends Error {
  readonly grpcCode: GrpcCodeValue;
  constructor(grpcCode: GrpcCodeValue, message: string) {
    super(message);
    this.name = "EngineError";
    this.grpcCode = grpcCode;
  }
}

export const invalidArgument = (message: string) => new EngineError(GrpcCode.INVALID_ARGUMENT, message);
export const failedPrecondition = (message: string) => new EngineError(GrpcCode.FAILED_PRECONDITION, message);
export const resourceExhausted = (message: string) => new EngineError(GrpcCode.RESOURCE_EXHAUSTED, message);
export const notFound = (message: string) => new EngineError(GrpcCode.NOT_FOUND, message);

/** Re-throws any non-EngineError as `wrap(message)`, keeping EngineErrors as they are. */
export function rethrowAs(err: unknown, wrap: (message: string) => EngineError, prefix = ""): never {
  if (err instanceof EngineError) throw err;
  throw wrap(prefix + (err instanceof Error ? err.message : String(err)));
}

/** FAILED_PRECONDITION unless `config` is a masked_lm generator (what the policy and reference serve). */
export function requireGenerator(config: { model_type: string }, role: "policy" | "reference"): void {
  if (config.model_type !== "masked_lm") throw failedPrecondition(`the ${role} needs a masked_lm generator; this checkpoint is a ${config.model_type}`);
}
