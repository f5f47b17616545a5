import { test } from "node:test";
import assert from "node:assert/strict";
import { randomScorerOnnx, scorerConfig } from "./random-scorer.ts";
import { SessionPool, SessionError } from "./session-pool.ts";
import { directScores, randomIds, unknownOpModel } from "./test/fixtures.ts";

// Big enough that one run takes tens of milliseconds, small enough for a fast test.
const config = scorerConfig({ seq_len: 64, n_layer: 2, n_head: 2, d_model: 64, d_ff: 256, vocab_size: 30 });
const bytes = randomScorerOnnx(config, { seed: 4, std: 0.1, version: "pool" });
const ROWS = 64;

test("runs happen off the main thread: timers keep firing while onnxruntime computes", async () => {
  const pool = await SessionPool.create(bytes, { sessions: 1, threads: 1, executionProviders: ["cpu"] });
  try {
    const ids = randomIds(ROWS, 64, 9, 30);
    const expected = await directScores(bytes, ids, ROWS, 64);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = performance.now();
    const runs = await Promise.all(Array.from({ length: 4 }, () => pool.run(BigInt64Array.from(ids, BigInt), ROWS, 64, "tokens", "score")));
    const ms = performance.now() - started;
    clearInterval(timer);
    for (const r of runs) {
      assert.deepEqual([...r.scores], [...expected]);
      assert.deepEqual(r.dims, [ROWS]);
    }
    // A run on the main thread would leave (almost) no ticks; here the loop is free the whole time.
    assert.ok(ticks >= ms / 10, `${ticks} timer ticks during ${ms.toFixed(0)} ms of runs`);
  } finally {
    await pool.release();
  }
});

test("with two sessions two runs are in flight at once; with one the second waits", async () => {
  const ids = () => BigInt64Array.from(randomIds(ROWS, 64, 1, 30), BigInt);
  for (const sessions of [1, 2]) {
    const pool = await SessionPool.create(bytes, { sessions, threads: 1, executionProviders: ["cpu"] });
    try {
      assert.equal(pool.size, sessions);
      const both = [pool.run(ids(), ROWS, 64, "tokens", "score"), pool.run(ids(), ROWS, 64, "tokens", "score")];
      assert.equal(pool.busy, sessions);
      const [a, b] = await Promise.all(both);
      assert.deepEqual([...a!.scores], [...b!.scores]);
      assert.equal(pool.busy, 0);
    } finally {
      await pool.release();
    }
  }
});

test("a session onnxruntime cannot create, a failing run and a released pool all say why", async () => {
  await assert.rejects(
    SessionPool.create(unknownOpModel(), { sessions: 2, threads: 1, executionProviders: ["cpu"] }),
    (e: unknown) => e instanceof SessionError && /NoSuchScorerOp/.test(e.message),
  );
  const pool = await SessionPool.create(bytes, { sessions: 1, threads: 1, executionProviders: ["cpu"] });
  try {
    await assert.rejects(
      pool.run(new BigInt64Array(3 * 5), 3, 5, "tokens", "score"),
      (e: unknown) => e instanceof SessionError && /tokens|dimension|Got invalid/i.test(e.message),
    );
    await assert.rejects(
      pool.run(new BigInt64Array(64), 1, 64, "nope", "score"),
      (e: unknown) => e instanceof SessionError && /input 'tokens' is missing/.test(e.message),
    );
    const ok = await pool.run(new BigInt64Array(64), 1, 64, "tokens", "score");
    assert.equal(ok.scores.length, 1, "a failed run leaves the session usable");
  } finally {
    await pool.release();
  }
  await assert.rejects(pool.run(new BigInt64Array(64), 1, 64, "tokens", "score"), /sessions were released/);
});
