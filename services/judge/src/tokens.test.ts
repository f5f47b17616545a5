import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DataType, TensorSchema } from "@grpomesh/proto";
import { RpcError, Status } from "@grpomesh/rpc";
import { encodeTensor } from "@grpomesh/tensor";
import { validateTokens, type TokenExpectation } from "./tokens.ts";

const expect64: TokenExpectation = { vocabSize: 10, seqLen: 3, inputDtype: "int64", maxBatch: 4, version: "v1" };
const expect32: TokenExpectation = { ...expect64, inputDtype: "int32", seqLen: null };

function refused(fn: () => unknown, code: Status, re: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${String(e)}`);
    assert.equal(e.code, code, `code ${Status[e.code]} for: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

test("int32 and int64 ids are converted to the dtype the model declares", () => {
  const a = validateTokens(encodeTensor(Int32Array.of(0, 1, 2, 9, 8, 7), [2, 3]), expect64);
  assert.ok(a.ids instanceof BigInt64Array);
  assert.deepEqual([...a.ids], [0n, 1n, 2n, 9n, 8n, 7n]);
  assert.deepEqual([a.rows, a.seqLen], [2, 3]);

  const b = validateTokens(encodeTensor(BigInt64Array.of(3n, 4n, 5n, 6n), [1, 4]), expect32);
  assert.ok(b.ids instanceof Int32Array);
  assert.deepEqual([...b.ids], [3, 4, 5, 6]);

  const same = validateTokens(encodeTensor(BigInt64Array.of(1n, 2n, 3n), [1, 3]), expect64);
  assert.deepEqual([...same.ids], [1n, 2n, 3n]);
});

test("an int64 request gives the same ids as its int32 twin, bit for bit, for either model dtype", () => {
  const ids = Int32Array.of(0, 9, 3, 7, 1, 2);
  for (const inputDtype of ["int32", "int64"] as const) {
    const expect = { ...expect64, inputDtype };
    const narrow = validateTokens(encodeTensor(ids, [2, 3]), expect);
    const wide = validateTokens(encodeTensor(BigInt64Array.from(ids, BigInt), [2, 3]), expect);
    assert.equal(wide.ids.constructor, narrow.ids.constructor);
    assert.deepEqual(
      new Uint8Array(wide.ids.buffer, wide.ids.byteOffset, wide.ids.byteLength),
      new Uint8Array(narrow.ids.buffer, narrow.ids.byteOffset, narrow.ids.byteLength),
    );
    assert.deepEqual([wide.rows, wide.seqLen], [narrow.rows, narrow.seqLen]);
  }
});

test("the ids are copied: later writes to the request bytes do not reach the batch", () => {
  const values = Int32Array.of(1, 2, 3);
  const batch = validateTokens(encodeTensor(values, [1, 3]), { ...expect64, inputDtype: "int32" });
  values[0] = 9;
  assert.equal(batch.ids[0], 1);
});

test("bytes at an odd offset inside a larger buffer decode correctly", () => {
  const backing = new Uint8Array(1 + 3 * 8);
  const view = new DataView(backing.buffer, 1);
  [4n, 5n, 6n].forEach((v, i) => view.setBigInt64(i * 8, v, true));
  const t = create(TensorSchema, { dtype: DataType.INT64, shape: [1n, 3n], data: backing.subarray(1) });
  assert.deepEqual([...validateTokens(t, expect64).ids], [4n, 5n, 6n]);
});

test("malformed tokens get INVALID_ARGUMENT naming what was wrong", () => {
  const I = Status.INVALID_ARGUMENT;
  refused(() => validateTokens(undefined, expect64), I, /tokens is missing; expected an int32 or int64 tensor \[N, T\]/);
  refused(() => validateTokens(encodeTensor(Float32Array.of(1, 2, 3), [1, 3]), expect64), I, /tokens has dtype FLOAT32; expected INT32 or INT64/);
  refused(() => validateTokens(encodeTensor(Int32Array.of(1, 2, 3), [3]), expect64), I, /shape \[3\] \(rank 1\); expected rank 2/);
  refused(() => validateTokens(encodeTensor(new Int32Array(0), [0, 3]), expect64), I, /shape \[0, 3\]: an empty batch/);
  refused(
    () => validateTokens(encodeTensor(Int32Array.of(1, 2, 3, 4), [1, 4]), expect64),
    I,
    /shape \[1, 4\]; expected \[N, 3\]: judge model v1 scores sequences of exactly 3 tokens/,
  );
  refused(() => validateTokens(encodeTensor(new Int32Array(0), [2, 0]), expect32), I, /sequences of length 0/);
  const short = create(TensorSchema, { dtype: DataType.INT32, shape: [2n, 3n], data: new Uint8Array(20) });
  refused(() => validateTokens(short, expect64), I, /20 bytes for shape \[2, 3\] of INT32; expected 24/);
});

test("an id outside the vocabulary is refused with its row, column and value", () => {
  const I = Status.INVALID_ARGUMENT;
  refused(
    () => validateTokens(encodeTensor(Int32Array.of(0, 1, 2, 3, 10, 5), [2, 3]), expect64),
    I,
    /tokens row 1, column 1 is 10; expected a token id in \[0, 10\)/,
  );
  refused(() => validateTokens(encodeTensor(Int32Array.of(0, -1, 2), [1, 3]), expect64), I, /row 0, column 1 is -1/);
  // 2^32 + 3 has low word 3: the high word must be checked too.
  refused(() => validateTokens(encodeTensor(BigInt64Array.of(1n, 2n, 4294967299n), [1, 3]), expect64), I, /row 0, column 2 is 4294967299/);
  refused(() => validateTokens(encodeTensor(BigInt64Array.of(-5n), [1, 1]), expect32), I, /row 0, column 0 is -5/);
  // int64 ids outside int32 (where the low word alone would look valid or negative) name their exact value
  refused(
    () => validateTokens(encodeTensor(BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 2n ** 40n), [2, 3]), expect64),
    I,
    /tokens row 1, column 2 is 1099511627776; expected a token id in \[0, 10\) \(judge model v1 has 10 tokens in its vocabulary\)/,
  );
  refused(
    () => validateTokens(encodeTensor(BigInt64Array.of(-(2n ** 63n)), [1, 1]), expect32),
    I,
    /tokens row 0, column 0 is -9223372036854775808; expected a token id in \[0, 10\)/,
  );
});

test("more sequences than --max_batch is RESOURCE_EXHAUSTED", () => {
  refused(
    () => validateTokens(encodeTensor(new Int32Array(15), [5, 3]), expect64),
    Status.RESOURCE_EXHAUSTED,
    /holds 5 sequences; this judge accepts at most 4 per request \(--max_batch\)/,
  );
});
