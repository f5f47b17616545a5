import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, mixSeeds, seedToU32 } from "./index.ts";

test("same seed gives the same sequence; different seeds differ", () => {
  const a = new Rng(42),
    b = new Rng(42),
    c = new Rng(43);
  const sa = Array.from({ length: 16 }, () => a.nextU32());
  const sb = Array.from({ length: 16 }, () => b.nextU32());
  const sc = Array.from({ length: 16 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test("numeric, bigint and string seeds agree", () => {
  assert.equal(seedToU32(7), seedToU32(7n));
  assert.equal(seedToU32(7), seedToU32("7"));
  assert.equal(new Rng(7).nextU32(), new Rng("7").nextU32());
});

test("state round trip continues the same stream", () => {
  const a = new Rng(1);
  for (let i = 0; i < 5; i++) a.next();
  const b = Rng.fromState(a.state());
  assert.deepEqual(
    Array.from({ length: 8 }, () => a.nextU32()),
    Array.from({ length: 8 }, () => b.nextU32()),
  );
  assert.throws(() => Rng.fromState([1, 2, 3] as never), /four unsigned 32-bit integers/);
});

test("floats are in [0,1) with mean near 1/2; nextInt is in range and roughly uniform", () => {
  const r = new Rng(3);
  let sum = 0;
  const counts = new Array(5).fill(0);
  for (let i = 0; i < 20000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    sum += x;
    counts[r.nextInt(5)]++;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
  for (const c of counts) assert.ok(Math.abs(c - 4000) < 300, `bucket count ${c}`);
  assert.throws(() => r.nextInt(0), /integer bound/);
});

test("mixSeeds separates streams by every part", () => {
  assert.notEqual(mixSeeds(1, 2), mixSeeds(2, 1));
  assert.notEqual(mixSeeds(1, 2), mixSeeds(1, 3));
  assert.equal(mixSeeds(1, 2), mixSeeds(1, 2));
});
