// Hostile input against every RPC of every service (slow-ish, still in CI): real policy, reference,
// judge and a paused orchestrator run as processes with mutual TLS and an admin token; every case
// of the catalogue is sent (admin RPCs without a token, with a wrong one, a malformed one, and the
// right one with payloads that must be refused). Each service must stay up, answer with a specific
// status and a short message without a stack trace, within its deadline, and change nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { SwapJudgeRequestSchema } from "@grpomesh/proto";
import { SERVICES, SWAP_CALL_DEADLINE_MS, type ServiceName } from "./cases.ts";
import type { HostileCall } from "./probe.ts";
import { everyCase, randomCall } from "./runner.ts";
import { HostileSession } from "./session.ts";

const SEED = 20261210;
/** Random draws on top of the systematic pass. */
const RANDOM_CALLS = 150;

describe("hostile input against every RPC", { timeout: 240_000 }, () => {
  let session: HostileSession;

  before(
    async () => {
      session = await HostileSession.start({ seed: SEED, concurrency: 4 });
      const systematic = everyCase(session.cases, session.values, session.stack.facts);
      let random = 0;
      await session.run(
        () => systematic.next().value ?? (random++ < RANDOM_CALLS ? randomCall(session.cases, session.values, session.stack.facts) : undefined),
      );
      // Swaps queue at the step boundary: several at once must each still be answered in time.
      const burst = burstOfSwaps(session.stack.facts.judgePaths.otherVocabModel, 4);
      await session.run(() => burst.shift());
      await session.checkHealth("after the hostile calls");
      console.log(`${session.tally.calls} hostile calls (seed ${SEED})\n${session.tally.table()}`);
    },
    { timeout: 200_000 },
  );

  after(async () => {
    await session?.stop();
  });

  test("every RPC of every service received hostile requests", () => {
    for (const [service, desc] of Object.entries(SERVICES)) {
      for (const m of desc.methods) {
        const t = session.tally.methods.get(`${service} ${m.name}`);
        assert.ok(t && t.calls >= 3, `${service}.${m.name} got ${t?.calls ?? 0} hostile calls`);
      }
    }
  });

  for (const service of Object.keys(SERVICES) as ServiceName[]) {
    test(`${service}: specific statuses, bounded messages without stack traces, no hangs`, () => {
      const mine = session.tally.violations.filter((v) => v.service === service);
      assert.equal(
        mine.length,
        0,
        `${mine.length} violations:\n` +
          mine
            .slice(0, 25)
            .map((v) => `${v.method} [${v.label}, auth ${v.auth}] → ${v.code} ${JSON.stringify(v.details.slice(0, 200))}: ${v.problems.join("; ")}`)
            .join("\n"),
      );
    });
  }

  test("every service stays up and answers health", () => {
    assert.deepEqual(session.healthProblems, []);
  });

  test("the run state is unchanged: weights, versions, steps, files (and /etc/passwd)", async () => {
    assert.deepEqual(await session.stateChanges(), []);
  });
});

/** SwapJudge calls sent at once, each of which must be refused: a judge with another vocabulary, /etc/passwd. */
function burstOfSwaps(otherVocabModel: string, n: number): HostileCall[] {
  return Array.from({ length: n }, (_, i) => {
    const path = i % 2 === 0 ? otherVocabModel : "/etc/passwd";
    return {
      service: "orchestrator",
      method: "SwapJudge",
      label: "swaps sent at once",
      auth: "admin",
      deadlineMs: SWAP_CALL_DEADLINE_MS,
      request: {
        body: toBinary(SwapJudgeRequestSchema, create(SwapJudgeRequestSchema, { path })),
        mustRefuse: true,
        echoes: [],
        undecodable: false,
        oversized: false,
        detail: `path ${path}`,
      },
    };
  });
}
