import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors, safeTensor, type SafeTensor } from "./safetensors.ts";

/** Builds a file by hand from a header object and raw data bytes (no padding unless asked). */
function rawFile(header: unknown, data: Uint8Array, headerText = JSON.stringify(header)): Uint8Array {
  const h = Buffer.from(headerText, "utf8");
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test("F32, I32 and I64 round-trip bit-exactly, with metadata and an 8-byte aligned data section", () => {
  const f = new Float32Array([1.5, -0, NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38]);
  const nanPayload = new Uint32Array(f.buffer);
  nanPayload[2] = 0x7fc00123; // a NaN with payload must survive too
  const tensors = new Map<string, SafeTensor>([
    ["b.f32", safeTensor(f, [7])],
    ["a.i32", safeTensor(Int32Array.from([-2147483648, 0, 2147483647, 5, 6, 7]), [2, 3])],
    ["c.i64", safeTensor(BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]), [2, 1])],
    ["empty", safeTensor(new Float32Array(0), [0, 4])],
  ]);
  const bytes = encodeSafetensors(tensors, { format: "pt", note: "ünïcode" });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0);
  // Read through a Node Buffer view at an odd offset, as readFileSync's pooled buffers can be.
  const pooled = Buffer.concat([Buffer.alloc(3, 0xaa), Buffer.from(bytes), Buffer.alloc(5, 0xbb)]).subarray(3, 3 + bytes.length);
  const back = decodeSafetensors(pooled);
  assert.deepEqual(back.metadata, { format: "pt", note: "ünïcode" });
  assert.deepEqual([...back.tensors.keys()].sort(), ["a.i32", "b.f32", "c.i64", "empty"]);
  for (const [name, t] of tensors) {
    const got = back.tensors.get(name)!;
    assert.equal(got.dtype, t.dtype);
    assert.deepEqual(got.shape, t.shape);
    assert.deepEqual(
      new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength),
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    );
  }
  // Same content in another insertion order gives the same bytes.
  const reordered = new Map([...tensors.entries()].reverse());
  assert.deepEqual(encodeSafetensors(reordered, { format: "pt", note: "ünïcode" }), bytes);
});

test("reads files written elsewhere: unpadded header, unaligned offsets, no metadata", () => {
  const data = new Uint8Array(12);
  new DataView(data.buffer).setFloat32(0, 2.5, true);
  new DataView(data.buffer).setInt32(4, -7, true);
  new DataView(data.buffer).setInt32(8, 9, true);
  const file = rawFile({ x: { dtype: "F32", shape: [], data_offsets: [0, 4] }, y: { dtype: "I32", shape: [2], data_offsets: [4, 12] } }, data);
  const { tensors, metadata } = decodeSafetensors(file);
  assert.deepEqual(metadata, {});
  assert.deepEqual([...tensors.get("x")!.data], [2.5]);
  assert.deepEqual(tensors.get("x")!.shape, []);
  assert.deepEqual([...tensors.get("y")!.data], [-7, 9]);
});

test("refuses malformed files with a message naming the problem", () => {
  const four = new Uint8Array(4);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["too short", new Uint8Array(5), /needs 8/],
    [
      "header length past the end",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 1000n, true);
        return b;
      })(),
      /header length 1000 exceeds/,
    ],
    ["not JSON", rawFile(null, four, "{nope"), /not JSON/],
    ["header is an array", rawFile([], four), /must be a JSON object/],
    ["bad dtype", rawFile({ x: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, four), /dtype "F16"; supported dtypes are F32, I32, I64/],
    ["bad shape", rawFile({ x: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, four), /shape \[-1\]/],
    ["offsets out of range", rawFile({ x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, four), /outside the 4-byte data section/],
    ["reversed offsets", rawFile({ x: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, four), /outside/],
    ["shape vs bytes", rawFile({ x: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, four), /needs 8 bytes but data_offsets span 4/],
    ["overlap", rawFile({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, y: { dtype: "I32", shape: [1], data_offsets: [0, 4] } }, four), /overlaps/],
    ["hole", rawFile({ x: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /belong to no tensor/],
    ["trailing bytes", rawFile({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), /cover only 4/],
    ["metadata not strings", rawFile({ __metadata__: { a: 1 } }, new Uint8Array(0)), /must be a string/],
  ];
  for (const [name, bytes, pattern] of cases) {
    assert.throws(
      () => decodeSafetensors(bytes, "w.safetensors"),
      (e: Error) => e.message.startsWith("w.safetensors is not a valid safetensors file") && pattern.test(e.message),
      name,
    );
  }
});

test("refuses to write inconsistent tensors", () => {
  assert.throws(() => encodeSafetensors({ x: { dtype: "F32", shape: [3], data: new Float32Array(2) } }), /shape \[3\] \(3 elements\) but 2 values/);
  assert.throws(() => encodeSafetensors({ x: { dtype: "I32", shape: [2], data: new Float32Array(2) } }), /says dtype I32 but holds a Float32Array/);
  assert.throws(() => encodeSafetensors({ __metadata__: safeTensor(new Float32Array(1), [1]) }), /reserved/);
});
