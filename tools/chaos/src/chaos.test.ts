// Chaos (slow, still in CI): a seeded GRPO run on the local stack with tiny models, once
// uninterrupted and once while a judge replica, the policy, the orchestrator and the reference are
// each killed with SIGKILL mid-step. The launcher's supervisor restarts the judge and the reference
// at their addresses while training goes on; the policy comes back from the initial generator and
// the orchestrator resumes from its last checkpoint. The final policy weights and optimizer state must equal the uninterrupted run's
// byte for byte, and log.jsonl must count every step exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChaos, type FaultOutcome } from "./chaos.ts";
import { tinyModels } from "./models.ts";
import { formatTable, formatVerdict } from "./table.ts";

const STEPS = 30;
const CHECKPOINT_INTERVAL = 3;

test(
  "a run whose judge, policy, orchestrator and reference are SIGKILLed ends bit-identical to an uninterrupted one, every step counted once",
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "grpomesh-chaos-test-"));
    let keep = false;
    try {
      const models = await tinyModels(join(dir, "models"));
      const report = await runChaos({
        seed: 3,
        faults: 0,
        // The judge last: training goes on while it restarts, so an earlier one could let the run outpace the plan.
        plan: "policy@4,orchestrator@8,reference@11,judge@14",
        steps: STEPS,
        judges: 2,
        checkpointInterval: CHECKPOINT_INTERVAL,
        runConfig: models.runConfig,
        generator: models.generator,
        judgeModel: models.judgeModel,
        workDir: dir,
        threads: 1,
      });
      const shown = `\n${formatTable(report)}\n${formatVerdict(report)}\nwork folder: ${dir}`;
      keep = !report.passed;
      const fault = (role: string): FaultOutcome => report.outcomes.find((o) => o.fault.role === role)!;

      for (const o of report.outcomes) assert.ok(o.injected, `${o.target} was not killed: ${o.events.join("; ")}${shown}`);
      // The launcher's supervisor restarts a judge replica and the reference while training goes on.
      for (const role of ["judge", "reference"]) {
        assert.match(fault(role).events.join("; "), /restarted by the launcher's supervisor at the same address/, shown);
        assert.deepEqual(fault(role).resumedFrom, [], `the ${role}'s death stopped the run${shown}`);
      }
      // The policy's and the orchestrator's deaths are recovered by a resume from a checkpoint at or before the step reached.
      for (const role of ["policy", "orchestrator"]) {
        const o = fault(role);
        assert.ok(o.resumedFrom.length > 0, `no resume after the ${role} died${shown}`);
        for (const from of o.resumedFrom) {
          assert.ok(from > 0 && from % CHECKPOINT_INTERVAL === 0, `resumed from step ${from}, not a checkpoint step${shown}`);
          assert.ok(from <= o.atStep, `resumed from step ${from}, after the step reached (${o.atStep})${shown}`);
        }
      }
      assert.deepEqual(report.behaviourProblems, [], shown);
      assert.deepEqual(report.unexplained, [], shown);

      assert.equal(report.chaos.checkpointStep, STEPS, shown);
      assert.deepEqual(
        report.filesEqual,
        { "model.safetensors": true, "optimizer.safetensors": true },
        `final checkpoint differs from the uninterrupted run's${shown}`,
      );
      assert.ok(report.weightsDigestEqual, shown);
      assert.equal(report.trajectoryDifference, undefined, `a step's metrics differ from the uninterrupted run's${shown}`);
      // Each step once in log.jsonl, a "resume" record per resume, the redone steps' records in log.superseded.jsonl.
      assert.deepEqual(report.ledgerProblems, [], `steps not counted exactly once${shown}`);
      assert.ok(report.chaos.ledger.resumes.length >= 2, shown);
      assert.ok(report.passed, shown);
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  },
);
