import { test } from "node:test";
import assert from "node:assert/strict";
import type { LogRecord } from "@grpomesh/loop";
import { firstDifference, ledgerProblems, ranges, stepLedger } from "./ledger.ts";

const step = (n: number, extra: Partial<LogRecord> = {}): LogRecord => ({ type: "step", step: n, loss: n / 10, mean_reward: n / 100, ...extra });

test("every step once: a clean log passes; a redone step logged twice without a mark is counted twice", () => {
  const clean = stepLedger([step(1), step(2), { type: "eval", step: 2 }, step(3)], 3);
  assert.deepEqual(ledgerProblems(clean), []);
  const doubled = stepLedger([step(1), step(2), step(3), step(2), step(3)], 3);
  assert.deepEqual(ledgerProblems(doubled), [
    "step 2 counted 2 times (live records not marked superseded)",
    "step 3 counted 2 times (live records not marked superseded)",
  ]);
  assert.deepEqual(ledgerProblems(stepLedger([step(1), step(3)], 4)), ["steps never counted: 2, 4"]);
});

test("records marked superseded do not count; resume records are collected", () => {
  const ledger = stepLedger([step(1), step(2, { superseded: true }), { type: "resume", step: 1 }, step(2), step(3)], 3);
  assert.deepEqual(ledgerProblems(ledger), []);
  assert.equal(ledger.superseded, 1);
  assert.equal(ledger.resumes.length, 1);
});

test("two runs' live steps are compared bit for bit", () => {
  const a = stepLedger([step(1), step(2)], 2);
  assert.equal(firstDifference(a, stepLedger([step(1), step(2, { superseded: true, loss: 9 }), step(2)], 2)), undefined);
  assert.deepEqual(firstDifference(a, stepLedger([step(1), step(2, { loss: 0.2 + 1e-16 })], 2)), { step: 2, field: "loss", a: 0.2, b: 0.2 + 1e-16 });
  assert.deepEqual(firstDifference(a, stepLedger([step(1)], 2)), { step: 2, field: "(record)", a: "present", b: "absent" });
});

test("ranges", () => {
  assert.equal(ranges([9, 1, 2, 3, 7, 10]), "1–3, 7, 9–10");
  assert.equal(ranges([]), "");
});
