import { test } from "node:test";
import assert from "node:assert/strict";
import { parseFaultSpec, planFaults, ROLES } from "./plan.ts";

test("a seeded plan is reproducible, covers every role in each window of four, and fires at increasing steps", () => {
  const a = planFaults({ seed: 7, faults: 8, steps: 40, judges: 2 });
  assert.deepEqual(planFaults({ seed: 7, faults: 8, steps: 40, judges: 2 }), a);
  assert.notDeepEqual(planFaults({ seed: 8, faults: 8, steps: 40, judges: 2 }), a);
  assert.deepEqual(new Set(a.slice(0, 4).map((f) => f.role)), new Set(ROLES));
  assert.deepEqual(new Set(a.slice(4).map((f) => f.role)), new Set(ROLES));
  for (let i = 1; i < a.length; i++) assert.ok(a[i]!.afterStep > a[i - 1]!.afterStep, `steps ${a.map((f) => f.afterStep)} must increase`);
  for (const f of a) {
    assert.ok(f.afterStep >= 1 && f.afterStep <= 29, `step ${f.afterStep} is not in the first three quarters of the run`);
    assert.ok(f.replica === 0 || f.replica === 1);
    assert.ok(f.delayFraction >= 0 && f.delayFraction < 1);
  }
});

test("more faults than steps before the last are refused with the limit named", () => {
  assert.equal(planFaults({ seed: 1, faults: 3, steps: 4, judges: 2 }).length, 3);
  assert.throws(() => planFaults({ seed: 1, faults: 4, steps: 4, judges: 2 }), /--faults=4 does not fit in --steps=4: at most steps − 1 = 3/);
});

test("an explicit plan gives roles and steps; bad entries are refused", () => {
  const plan = planFaults({ seed: 1, faults: 0, steps: 12, judges: 3, spec: "judge@3, policy@6,orchestrator@9" });
  assert.deepEqual(
    plan.map((f) => [f.role, f.afterStep]),
    [
      ["judge", 3],
      ["policy", 6],
      ["orchestrator", 9],
    ],
  );
  assert.throws(() => parseFaultSpec("jduge@3", 12), /expected role@step with role one of policy, reference, judge, orchestrator/);
  assert.throws(() => parseFaultSpec("judge@12", 12), /outside 1\.\.11/);
  assert.throws(() => parseFaultSpec("judge@5,policy@5", 12), /steps must increase/);
});
