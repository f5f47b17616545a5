// One thin adapter from protobuf-es service descriptors to @grpc/grpc-js definitions: the only
// place where messages meet the wire, so nobody hand-writes serializers.
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";

/** grpc-js method definition for one unary protobuf-es method. */
export function methodDefinition(service: DescService, method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  if (method.methodKind !== "unary") {
    throw new Error(`${service.typeName}.${method.name} is ${method.methodKind}; only unary methods are supported`);
  }
  return {
    path: methodPath(service, method),
    requestStream: false,
    responseStream: false,
    originalName: method.localName,
    requestSerialize: serializer(method.input),
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output),
    responseDeserialize: deserializer(method.output),
  };
}

/** grpc-js ServiceDefinition keyed by each method's local (camelCase) name. */
export function serviceDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) def[method.localName] = methodDefinition(service, method);
  // grpc-js types ServiceDefinition as readonly; the record above is the same shape.
  return def as grpc.ServiceDefinition;
}

export function methodPath(service: DescService, method: DescMethod): string {
  return `/${service.typeName}/${method.name}`;
}

function serializer<D extends DescMessage>(schema: D): (msg: unknown) => Buffer {
  return (msg) => {
    const bytes = toBinary(schema, msg as MessageShape<D>);
    // Buffer.from(ArrayBuffer, offset, length) wraps without copying.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<D extends DescMessage>(schema: D): (buf: Buffer) => MessageShape<D> {
  // Decoded `bytes` fields are views into `buf`, so tensors are not copied element by element.
  return (buf) => fromBinary(schema, buf);
}
