import { test } from "node:test";
import assert from "node:assert/strict";
import { dropZeroStdGroups, groupRelativeAdvantages } from "./index.ts";

function near(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

test('"group": (r − mean) / population std, per group', () => {
  // group [1,2,3,4]: mean 2.5, deviations −1.5 −.5 .5 1.5, var (2.25+.25+.25+2.25)/4 = 1.25,
  // std √1.25 = 1.1180340; A = dev/std = ∓1.3416408, ∓0.4472136.
  // group [0,0,2,2]: mean 1, dev −1 −1 1 1, std 1; A = dev.
  const r = groupRelativeAdvantages([1, 2, 3, 4, 0, 0, 2, 2], { groupSize: 4, norm: "group" });
  near(r.advantages, [-1.3416408, -0.4472136, 0.4472136, 1.3416408, -1, -1, 1, 1]);
  near(r.groupMeans, [2.5, 1]);
  near(r.groupStds, [1.118034, 1]);
  assert.equal(r.fracZeroStdGroups, 0);
});

test('"none" (Dr. GRPO): only centred', () => {
  const r = groupRelativeAdvantages([1, 2, 3, 4, 0, 0, 2, 2], { groupSize: 4, norm: "none" });
  near(r.advantages, [-1.5, -0.5, 0.5, 1.5, -1, -1, 1, 1]);
});

test('"global" (seed): centred per group, then standardised over the batch', () => {
  // centred: [−1.5 −.5 .5 1.5 | −1 −1 1 1], mean 0,
  // var = (2.25+.25+.25+2.25 + 1+1+1+1)/8 = 9/8, std = 1.0606602;
  // A = centred / 1.0606602: 1.5→1.4142136, .5→0.4714045, 1→0.9428090.
  const r = groupRelativeAdvantages([1, 2, 3, 4, 0, 0, 2, 2], { groupSize: 4, norm: "global" });
  near(r.advantages, [-1.4142136, -0.4714045, 0.4714045, 1.4142136, -0.942809, -0.942809, 0.942809, 0.942809]);
});

test("an all-equal group gives exactly zero advantages, no NaN, and is counted", () => {
  // 0.1+0.1+0.1 = 0.30000000000000004 in float64, /3 = 0.10000000000000002 ≠ 0.1: a computed
  // mean would leave −1.4e-17 residues, which "group" would then divide by the floor.
  for (const norm of ["global", "group", "none"] as const) {
    const r = groupRelativeAdvantages([0.1, 0.1, 0.1, 1, 2, 3], { groupSize: 3, norm });
    assert.deepEqual(Array.from(r.advantages.slice(0, 3)), [0, 0, 0], norm);
    assert.ok(r.advantages.every(Number.isFinite), norm);
    assert.notEqual(r.advantages[3], 0, norm);
    assert.equal(r.fracZeroStdGroups, 0.5, norm);
    assert.equal(r.groupStds[0], 0);
    assert.equal(r.groupMeans[0], 0.1);
  }
  // every group flat: "global" has std(A) = 0 — the floor keeps it 0/… = 0, not NaN
  const all = groupRelativeAdvantages([5, 5, 7, 7], { groupSize: 2, norm: "global" });
  assert.deepEqual(Array.from(all.advantages), [0, 0, 0, 0]);
  assert.equal(all.fracZeroStdGroups, 1);
});

test("the std floor caps a group whose std is 1e-4", () => {
  // rewards [0, 2e-4]: mean 1e-4, population std 1e-4.
  // without a floor: A = ±1e-4 / (1e-4 + 1e-8) = ±0.9999 — a full-size advantage from noise;
  // with the default floor 1e-2: A = ±1e-4 / (1e-2 + 1e-8) = ±0.0099999900.
  const capped = groupRelativeAdvantages([0, 2e-4], { groupSize: 2, norm: "group" });
  near(capped.advantages, [-0.00999999, 0.00999999], 1e-8);
  near(capped.groupStds, [1e-4], 1e-12);
  const unfloored = groupRelativeAdvantages([0, 2e-4], { groupSize: 2, norm: "group", stdFloor: 0 });
  near(unfloored.advantages, [-0.99990001, 0.99990001], 1e-6);
  // "global" floors the batch std too: same single group, same numbers
  near(groupRelativeAdvantages([0, 2e-4], { groupSize: 2, norm: "global" }).advantages, [-0.00999999, 0.00999999], 1e-8);
  // a group wider than the floor is untouched by it: [0, 1] → std .5 → A = ±.5/(.5+1e-8)
  near(groupRelativeAdvantages([0, 1], { groupSize: 2, norm: "group" }).advantages, [-0.99999998, 0.99999998], 1e-7);
});

test("groupSize < 2, ragged batches, empty batches and bad options are refused", () => {
  assert.throws(() => groupRelativeAdvantages([1, 2], { groupSize: 1, norm: "group" }), /groupSize is 1; expected an integer ≥ 2/);
  assert.throws(() => groupRelativeAdvantages([1, 2], { groupSize: 0, norm: "group" }), /groupSize is 0/);
  assert.throws(() => groupRelativeAdvantages([1, 2, 3], { groupSize: 2, norm: "group" }), /3 rewards, which is not a multiple of groupSize 2/);
  assert.throws(() => groupRelativeAdvantages([], { groupSize: 2, norm: "group" }), /rewards is empty/);
  assert.throws(() => groupRelativeAdvantages([1, 2], { groupSize: 2, norm: "batch" as never }), /expected one of global, group, none/);
  assert.throws(() => groupRelativeAdvantages([1, 2], { groupSize: 2, norm: "group", stdFloor: -1 }), /stdFloor is -1/);
});

test("NaN and ±Inf rewards are refused with their index and group, never averaged in", () => {
  assert.throws(() => groupRelativeAdvantages([1, 2, 3, 4, 5, Number.NaN], { groupSize: 3, norm: "global" }), /reward\[5\] is NaN \(group 1, member 2\)/);
  assert.throws(
    () => groupRelativeAdvantages(new Float32Array([Number.POSITIVE_INFINITY, 1]), { groupSize: 2, norm: "none" }),
    /reward\[0\] is Infinity \(group 0, member 0\)/,
  );
  assert.throws(() => groupRelativeAdvantages([1, -Infinity], { groupSize: 2, norm: "group" }), /reward\[1\] is -Infinity/);
  assert.throws(() => dropZeroStdGroups([1, Number.NaN], 2), /reward\[1\] is NaN/);
});

test("dropZeroStdGroups keeps the groups that carry a signal", () => {
  assert.deepEqual(dropZeroStdGroups([1, 1, 0, 1, 2, 2, 0.5, 0.25], 2), [1, 3]);
  assert.deepEqual(dropZeroStdGroups([3, 3, 3, 3], 2), []);
  assert.throws(() => dropZeroStdGroups([1, 2, 3], 2), /not a multiple/);
});
