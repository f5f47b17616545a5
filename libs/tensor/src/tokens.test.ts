import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DataType, TensorSchema } from "@grpomesh/proto";
import { TensorError, decodeTokens, encodeTensor } from "./index.ts";

function refused(fn: () => unknown, re: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TensorError, `expected TensorError, got ${String(e)}`);
    assert.equal(e.grpcCode, 3);
    assert.match(e.message, re);
    return true;
  });
}

test("INT32 and INT64 token tensors decode to the same Int32Array, through the wire too", () => {
  const ids = Int32Array.from({ length: 24 }, (_, i) => (i * 7919) % 1000);
  for (const values of [ids, BigInt64Array.from(ids, BigInt)]) {
    const t = fromBinary(TensorSchema, toBinary(TensorSchema, encodeTensor(values, [2, 3, 4])));
    const d = decodeTokens(t, { name: "completions", shape: [2, null, 4] });
    assert.equal(d.dtype, values instanceof Int32Array ? DataType.INT32 : DataType.INT64);
    assert.deepEqual(d.shape, [2, 3, 4]);
    assert.ok(d.values instanceof Int32Array);
    assert.deepEqual(d.values, ids);
  }
  // the extremes of the accepted range
  const edge = decodeTokens(encodeTensor(BigInt64Array.of(0n, 2147483647n), [1, 2]), { name: "inputs" });
  assert.deepEqual([...edge.values], [0, 2147483647]);
});

test("INT64 bytes at an odd offset inside a larger buffer decode correctly", () => {
  const backing = new Uint8Array(1 + 3 * 8);
  const view = new DataView(backing.buffer, 1);
  [4n, 5n, 6n].forEach((v, i) => view.setBigInt64(i * 8, v, true));
  const t = create(TensorSchema, { dtype: DataType.INT64, shape: [1n, 3n], data: backing.subarray(1) });
  assert.deepEqual([...decodeTokens(t, { name: "inputs" }).values], [4, 5, 6]);
});

test("ids that are negative or do not fit in int32 are refused naming the element and its value", () => {
  refused(
    () => decodeTokens(encodeTensor(BigInt64Array.of(1n, 2n, 3n, 4294967299n), [2, 2]), { name: "inputs" }),
    /inputs\[1, 1\] is 4294967299; expected a token id in \[0, 2147483647\]/,
  );
  refused(
    () => decodeTokens(encodeTensor(BigInt64Array.of(2147483648n), [1, 1]), { name: "inputs" }),
    /inputs\[0, 0\] is 2147483648; expected a token id in \[0, 2147483647\]/,
  );
  refused(() => decodeTokens(encodeTensor(BigInt64Array.of(0n, -1n), [1, 1, 2]), { name: "completions" }), /completions\[0, 0, 1\] is -1; expected a token id/);
  refused(() => decodeTokens(encodeTensor(BigInt64Array.of(-(2n ** 63n)), [1]), { name: "inputs" }), /inputs\[0\] is -9223372036854775808/);
  refused(() => decodeTokens(encodeTensor(Int32Array.of(5, -3), [2]), { name: "inputs" }), /inputs\[1\] is -3; expected a token id in \[0, 2147483647\]/);
});

test("with a vocabulary size, ids at or above it are refused too; dimension names name the element", () => {
  const expect = { name: "tokens", vocabSize: 10, vocabNote: " (this model has 10 tokens)", dimNames: ["row", "column"] };
  assert.deepEqual([...decodeTokens(encodeTensor(BigInt64Array.of(0n, 9n), [1, 2]), expect).values], [0, 9]);
  refused(
    () => decodeTokens(encodeTensor(Int32Array.of(0, 1, 2, 3, 10, 5), [2, 3]), expect),
    /tokens row 1, column 1 is 10; expected a token id in \[0, 10\) \(this model has 10 tokens\)/,
  );
  refused(
    () => decodeTokens(encodeTensor(BigInt64Array.of(1n, 2n, 4294967299n), [1, 3]), expect),
    /tokens row 0, column 2 is 4294967299; expected a token id in \[0, 10\)/,
  );
});

test("other dtypes, shapes and byte counts are refused as decodeTensor refuses them", () => {
  refused(() => decodeTokens(undefined, { name: "inputs" }), /inputs is missing/);
  refused(() => decodeTokens(encodeTensor(Float32Array.of(1), [1, 1]), { name: "inputs" }), /inputs has dtype FLOAT32; expected INT32 or INT64/);
  refused(() => decodeTokens(encodeTensor(new Uint8Array(2), [1, 2]), { name: "inputs" }), /inputs has dtype UINT8; expected INT32 or INT64/);
  refused(() => decodeTokens(encodeTensor(new BigInt64Array(4), [4]), { name: "inputs", shape: [null, null] }), /inputs has shape \[4\]; expected \[\*, \*\]/);
  const short = create(TensorSchema, { dtype: DataType.INT64, shape: [2n, 3n], data: new Uint8Array(24) });
  refused(() => decodeTokens(short, { name: "inputs" }), /inputs: 24 bytes for shape \[2, 3\] of INT64; expected 48/);
});
