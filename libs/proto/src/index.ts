// The gRPC contracts of GRPO Mesh: protobuf-es code generated from proto/grpomesh/v1 by `npm run generate`.
export * from "./gen/grpomesh/v1/tensor_pb.ts";
export * from "./gen/grpomesh/v1/model_pb.ts";
export * from "./gen/grpomesh/v1/policy_pb.ts";
export * from "./gen/grpomesh/v1/reference_pb.ts";
export * from "./gen/grpomesh/v1/judge_pb.ts";
export * from "./gen/grpomesh/v1/orchestrator_pb.ts";
