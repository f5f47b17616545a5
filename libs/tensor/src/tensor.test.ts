import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DataType, TensorSchema, type Tensor } from "@grpomesh/proto";
import { TensorError, decodeTensor, encodeTensor, int64ToInt32, type TensorValues } from "./index.ts";

const SAMPLES: Array<{ dtype: DataType; make: (n: number) => TensorValues }> = [
  { dtype: DataType.FLOAT32, make: (n) => Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3) },
  { dtype: DataType.INT32, make: (n) => Int32Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * i * 1000003) },
  { dtype: DataType.INT64, make: (n) => BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * -(2n ** 40n) + 7n) },
  { dtype: DataType.UINT8, make: (n) => Uint8Array.from({ length: n }, (_, i) => (i * 37) & 255) },
  { dtype: DataType.FLOAT64, make: (n) => Float64Array.from({ length: n }, (_, i) => Math.PI * i - 1e300 * (i % 2)) },
];
const SHAPES: number[][] = [[], [0], [3, 0, 2], [5], [2, 3], [2, 1, 3]];

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function tensor(dtype: DataType, shape: bigint[], data: Uint8Array): Tensor {
  return create(TensorSchema, { dtype, shape, data });
}

test("every dtype and shape (scalars and zero-size included) round-trips, in memory and through the wire", () => {
  for (const { dtype, make } of SAMPLES) {
    for (const shape of SHAPES) {
      const values = make(product(shape));
      const t = encodeTensor(values, shape);
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, shape.map(BigInt));
      const direct = decodeTensor(t, { name: "x", dtype });
      assert.equal(direct.dtype, dtype);
      assert.deepEqual(direct.shape, shape);
      assert.deepEqual(direct.values, values);
      const wire = decodeTensor(fromBinary(TensorSchema, toBinary(TensorSchema, t)), { name: "x", dtype, shape });
      assert.deepEqual(wire.shape, shape);
      assert.deepEqual(wire.values, values, `${DataType[dtype]} ${JSON.stringify(shape)}`);
      assert.equal(wire.values.constructor, values.constructor);
    }
  }
});

test("encode makes a view over the typed array, not a copy", () => {
  const backing = new Float32Array(10);
  const values = backing.subarray(3, 9); // a view with a non-zero offset
  const t = encodeTensor(values, [2, 3]);
  assert.equal(t.data.buffer, backing.buffer);
  assert.equal(t.data.byteOffset, 12);
  assert.equal(t.data.byteLength, 24);
  values[0] = 42.5;
  assert.equal(new DataView(t.data.buffer, t.data.byteOffset).getFloat32(0, true), 42.5);
});

test("decode of an aligned message is a view sharing the message's bytes", () => {
  const t = encodeTensor(new Int32Array([1, 2, 3, 4]), [4]);
  const { values } = decodeTensor(t, { name: "ids", dtype: DataType.INT32 });
  assert.equal(values.buffer, t.data.buffer);
  values[2] = 99;
  assert.equal(new DataView(t.data.buffer, t.data.byteOffset).getInt32(8, true), 99);
});

test("decode works at every byte offset of a parsed message (unaligned views are copied once)", () => {
  for (const { dtype, make } of SAMPLES) {
    const values = make(6);
    const bytes = toBinary(TensorSchema, encodeTensor(values, [2, 3]));
    let sawUnaligned = false;
    for (let pad = 0; pad < 8; pad++) {
      const framed = new Uint8Array(pad + bytes.length);
      framed.set(bytes, pad);
      const msg = fromBinary(TensorSchema, framed.subarray(pad));
      assert.equal(msg.data.buffer, framed.buffer, "protobuf-es should parse bytes as a view");
      if (msg.data.byteOffset % values.BYTES_PER_ELEMENT !== 0) sawUnaligned = true;
      const out = decodeTensor(msg, { name: "x", dtype, shape: [2, 3] });
      assert.deepEqual(out.values, values);
    }
    if (values.BYTES_PER_ELEMENT > 1) assert.ok(sawUnaligned, `no unaligned case exercised for ${DataType[dtype]}`);
  }
});

test("decode copies an unaligned Node Buffer (whose slice() would be another view)", () => {
  const values = new Float64Array([1.5, -2.25, 3e-300]);
  const bytes = Buffer.alloc(25);
  const data = bytes.subarray(1); // Buffer at odd offset
  data.set(new Uint8Array(values.buffer));
  const out = decodeTensor(tensor(DataType.FLOAT64, [3n], data), { name: "x" });
  assert.deepEqual(out.values, values);
});

test("BOOL travels as bytes of 0/1", () => {
  const t = encodeTensor(new Uint8Array([1, 0, 1]), [3], DataType.BOOL);
  assert.equal(t.dtype, DataType.BOOL);
  const out = decodeTensor(t, { name: "mask", dtype: [DataType.BOOL, DataType.UINT8] });
  assert.deepEqual(out.values, new Uint8Array([1, 0, 1]));
  assert.throws(() => encodeTensor(new Int32Array(1) as never, [1], DataType.BOOL), /BOOL tensors are encoded from a Uint8Array/);
});

function refuses(fn: () => unknown, field: string, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TensorError, `expected a TensorError, got ${String(err)}`);
    assert.equal(err.field, field);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test("decode refuses a missing tensor", () => {
  refuses(() => decodeTensor(undefined, { name: "inputs" }), "inputs", /^inputs is missing; expected a tensor/);
});

test("decode refuses unspecified and unknown dtypes", () => {
  refuses(
    () => decodeTensor(tensor(DataType.UNSPECIFIED, [1n], new Uint8Array(4)), { name: "inputs" }),
    "inputs",
    /^inputs has dtype UNSPECIFIED; expected one of FLOAT32, INT32, INT64, UINT8, FLOAT64, BOOL/,
  );
  refuses(
    () => decodeTensor(tensor(42 as DataType, [1n], new Uint8Array(4)), { name: "inputs" }),
    "inputs",
    /^inputs has dtype DataType\(42\); expected one of/,
  );
});

test("decode refuses a wrong dtype, naming the expected one(s)", () => {
  const t = encodeTensor(new Float32Array(2), [2]);
  refuses(() => decodeTensor(t, { name: "inputs", dtype: DataType.INT32 }), "inputs", "inputs has dtype FLOAT32; expected INT32");
  refuses(() => decodeTensor(t, { name: "inputs", dtype: [DataType.INT32, DataType.INT64] }), "inputs", "inputs has dtype FLOAT32; expected INT32 or INT64");
});

test("decode refuses negative dimensions and element-count overflow", () => {
  refuses(
    () => decodeTensor(tensor(DataType.INT32, [4n, -1n], new Uint8Array(0)), { name: "inputs" }),
    "inputs",
    "inputs has shape [4, -1]; dimensions must be non-negative",
  );
  refuses(
    () => decodeTensor(tensor(DataType.UINT8, [2n ** 62n], new Uint8Array(0)), { name: "inputs" }),
    "inputs",
    /dimension 4611686018427387904 exceeds 9007199254740991/,
  );
  refuses(
    () => decodeTensor(tensor(DataType.UINT8, [2n ** 30n, 2n ** 30n], new Uint8Array(0)), { name: "inputs" }),
    "inputs",
    /^inputs has shape \[1073741824, 1073741824\] with 1152921504606846976 elements; expected at most 9007199254740991$/,
  );
  refuses(
    () => decodeTensor(tensor(DataType.UINT8, [3n, 5n], new Uint8Array(15)), { name: "inputs", maxElements: 10 }),
    "inputs",
    "inputs has shape [3, 5] with 15 elements; expected at most 10",
  );
});

test("decode refuses rank and shape mismatches", () => {
  const t = encodeTensor(new Int32Array(28), [4, 7]);
  refuses(() => decodeTensor(t, { name: "inputs", shape: [null, 128] }), "inputs", "inputs has shape [4, 7]; expected [*, 128]");
  refuses(() => decodeTensor(t, { name: "inputs", shape: [28] }), "inputs", "inputs has shape [4, 7]; expected [28]");
  assert.deepEqual(decodeTensor(t, { name: "inputs", shape: [4, null] }).shape, [4, 7]);
});

test("decode refuses a byte length that does not match shape and dtype", () => {
  refuses(
    () => decodeTensor(tensor(DataType.INT32, [7n], new Uint8Array(27)), { name: "inputs" }),
    "inputs",
    "inputs: 27 bytes for shape [7] of INT32; expected 28",
  );
  refuses(
    () => decodeTensor(tensor(DataType.FLOAT64, [], new Uint8Array(0)), { name: "scale" }),
    "scale",
    "scale: 0 bytes for shape [] of FLOAT64; expected 8",
  );
});

test("encode refuses shapes that do not fit the values and arrays it cannot send", () => {
  refuses(() => encodeTensor(new Float32Array(6), [4, 2]), "shape", /shape \[4, 2\] holds 8 elements but the array has 6/);
  refuses(() => encodeTensor(new Float32Array(0), [-1]), "shape", /dimension -1; expected non-negative integers/);
  refuses(() => encodeTensor(new Float32Array(2), [1.5]), "shape", /dimension 1.5/);
  refuses(() => encodeTensor(new Int16Array(2) as never, [2]), "values", /cannot encode a Int16Array/);
});

test("int64ToInt32 converts in-range values and refuses the rest by index", () => {
  assert.deepEqual(int64ToInt32(new BigInt64Array([0n, -2147483648n, 2147483647n])), new Int32Array([0, -2147483648, 2147483647]));
  refuses(() => int64ToInt32(new BigInt64Array([1n, 2147483648n]), "ids"), "ids", /^ids\[1\] is 2147483648; expected a value in the int32 range/);
  refuses(() => int64ToInt32(new BigInt64Array([-2147483649n])), "values", /values\[0\] is -2147483649/);
});
