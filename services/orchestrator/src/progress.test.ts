import { test } from "node:test";
import assert from "node:assert/strict";
import type { StepRecord } from "@grpomesh/loop";
import { ProgressLine, REWARD_WINDOW } from "./progress.ts";

const record = (step: number, reward: number): StepRecord =>
  ({ step, mean_reward: reward, std_reward: 0.5, kl_per_token: 0.00123, mean_kl: 0.0246, loss: -0.25, grad_norm: 3.5, staleness: 0 }) as StepRecord;

test("the progress line: raw and windowed mean reward, KL per token with its unit, one line per log_every steps when piped", () => {
  const lines: string[] = [];
  const progress = new ProgressLine(40, "log", 10, { write: (text: string) => (lines.push(text), true) });
  for (let step = 1; step <= 40; step++) progress.step(record(step, step));
  assert.equal(lines.length, 5, "the first step, then every 10th");
  assert.match(
    lines[0]!,
    /^step  1\/40 \| reward 1\.000 ±0\.500 \(last-1 mean 1\.000\) \| kl\/tok 0\.00123 \| loss -0\.2500 \| gnorm 3\.50 \| [\d.]+ steps\/s \| ETA /,
  );
  // step 10: the mean of rewards 1…10; step 40: of the last REWARD_WINDOW (21…40)
  assert.match(lines[1]!, /^step 10\/40 \| reward 10\.000 ±0\.500 \(last-10 mean 5\.500\)/);
  const last = (40 + 41 - REWARD_WINDOW) / 2;
  assert.match(lines[4]!, new RegExp(`^step 40/40 \\| reward 40\\.000 ±0\\.500 \\(last-${REWARD_WINDOW} mean ${last.toFixed(3).replace(".", "\\.")}\\)`));
});

test("a pipelined step's line says how stale its samples were and the mean importance weight", () => {
  const lines: string[] = [];
  const progress = new ProgressLine(4, "log", 1, { write: (text: string) => (lines.push(text), true) });
  progress.step({ ...record(1, 1) });
  progress.step({ ...record(2, 1), staleness: 1, importance_weight_mean: 0.9876 });
  assert.doesNotMatch(lines[0]!, /stale/, "a synchronous step says nothing of it");
  assert.match(lines[1]!, /\| gnorm 3\.50 \| stale 1 w 0\.988 \| [\d.]+ steps\/s/);
});
