// Our reverse-mode differentiator: a Tape records ONNX nodes as the shared forward runs on it and
// writes the backward pass as more nodes; GraphBuilder serializes graphs as ONNX ModelProtos.
export * from "./tape.ts";
export * from "./graph.ts";
