// The run directory's files and errors, with real file-system errors (the tests run as root, which
// ignores permission bits: /proc refuses new folders, /dev/full is always full, /sys refuses files).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrpoTrainer } from "./trainer.ts";
import { assertFreshRunDir, ensureRunDir, readJsonFile, readLog, runDirError, wallSecondsSoFar } from "./run-dir.ts";
import { TINY_MASK, tinyConfig, tinyPorts } from "./testing.ts";

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const temp = () => {
  const dir = mkdtempSync(join(tmpdir(), "loop-rundir-"));
  made.push(dir);
  return dir;
};

function errorOf(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error("expected an error");
}

test("every JSON read error names the file: missing, empty, truncated", () => {
  const dir = temp();
  assert.throws(() => readJsonFile(join(dir, "nope.json")), new RegExp(`${dir}/nope\\.json does not exist`));
  writeFileSync(join(dir, "empty.json"), "");
  assert.throws(() => readJsonFile(join(dir, "empty.json")), /empty\.json is empty/);
  writeFileSync(join(dir, "cut.json"), '{"checkpoint": "step-00');
  assert.throws(() => readJsonFile(join(dir, "cut.json")), new RegExp(`${dir}/cut\\.json is not valid JSON \\(.*\\); it is 23 bytes, truncated or corrupt`));
});

test("log.jsonl: a last line cut off by a crash is set apart; a bad line in the middle names its line", () => {
  const dir = temp();
  const log = join(dir, "log.jsonl");
  writeFileSync(log, '{"type":"step","step":1}\n{"type":"step","st');
  const read = readLog(log);
  assert.deepEqual(
    read.records.map((r) => r.step),
    [1],
  );
  assert.equal(read.partialLastLine, '{"type":"step","st');
  writeFileSync(log, '{"type":"step","step":1}\nnot json\n{"type":"step","step":2}\n');
  assert.throws(() => readLog(log), /log\.jsonl line 2 is not a JSON record/);
});

test("a run directory that cannot be created or written says why, not ENOENT … mkdir", () => {
  // /proc refuses new entries even to root, with ENOENT although /proc exists.
  assert.throws(
    () => ensureRunDir("/proc/grpomesh-run/a"),
    /run directory \/proc\/grpomesh-run\/a cannot be created: \/proc does not allow new folders \(ENOENT from a read-only or virtual file system\); choose a writable --run_dir/,
  );
  const file = join(temp(), "a-file");
  writeFileSync(file, "x");
  assert.throws(() => ensureRunDir(join(file, "run")), /run directory .*a-file\/run is not a folder \(.*a-file is a file\)/);
  // /sys: the kernel refuses a new file even to root (EACCES).
  assert.throws(
    () => ensureRunDir("/sys"),
    /run directory \/sys is read-only \(EACCES: permission denied\): cannot write \/sys\/\.write-test-\d+; choose a writable --run_dir/,
  );
  const dir = join(temp(), "new", "run");
  ensureRunDir(dir);
  assert.doesNotThrow(() => ensureRunDir(dir));
});

test("fs errors carry their meaning: a real ENOSPC and EACCES, and EROFS", () => {
  const enospc = errorOf(() => writeFileSync("/dev/full", "x"));
  assert.equal(enospc.code, "ENOSPC");
  assert.match(
    runDirError(enospc, "/runs/a", "/runs/a/log.jsonl", "append to").message,
    /^run directory \/runs\/a has no space left \(ENOSPC: the device is full\): cannot append to \/runs\/a\/log\.jsonl; free some space/,
  );
  const eacces = errorOf(() => writeFileSync("/sys/grpomesh", "x"));
  assert.equal(eacces.code, "EACCES");
  assert.match(runDirError(eacces, "/sys", "/sys/grpomesh", "write").message, /run directory \/sys is read-only \(EACCES/);
  // A read-only mount needs privileges a test does not have; the errno is what the kernel sends.
  const erofs = Object.assign(new Error("EROFS: read-only file system, open '/mnt/ro/log.jsonl'"), { code: "EROFS" });
  assert.match(
    runDirError(erofs, "/mnt/ro", "/mnt/ro/log.jsonl", "append to").message,
    /run directory \/mnt\/ro is read-only \(EROFS: the file system is mounted read-only\)/,
  );
});

test("a full device under the run's log stops the run with ENOSPC named, not a bare errno", async () => {
  const dir = temp();
  symlinkSync("/dev/full", join(dir, "log.jsonl")); // every write to it fails with a real ENOSPC
  const trainer = new GrpoTrainer(tinyPorts(), tinyConfig(), { runDir: dir, maskTokenId: TINY_MASK });
  await assert.rejects(trainer.evaluate(), /run directory .* has no space left \(ENOSPC: the device is full\): cannot append to .*log\.jsonl/);
});

test("a fresh run refuses a directory holding another run's log or checkpoints", () => {
  const dir = temp();
  assertFreshRunDir(dir);
  assertFreshRunDir(join(dir, "not-yet"));
  writeFileSync(join(dir, "config.json"), "{}"); // a start that failed its checks leaves only this: fine
  assertFreshRunDir(dir);
  writeFileSync(join(dir, "log.jsonl"), '{"type":"step","step":1}\n');
  assert.throws(() => assertFreshRunDir(dir), /already holds a run's log\.jsonl \(1 steps, no checkpoint\); a fresh run would write over it/);
  mkdirSync(join(dir, "checkpoints", "step-000004"), { recursive: true });
  assert.throws(() => assertFreshRunDir(dir), /already holds checkpoints; pass --resume .*\(it holds step-000004\)/);
});

test("wall time over segments: an end record's, else to the last record of a killed segment", () => {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  assert.equal(
    wallSecondsSoFar([
      { type: "start", time: t(0), segment_start: t(0) },
      { type: "step", step: 1, time: t(10) },
    ]),
    10,
  );
  assert.equal(
    wallSecondsSoFar([
      { type: "start", time: t(0), segment_start: t(0) },
      { type: "resume", step: 4, time: t(30), segment_start: t(28), prior_wall_s: 10 },
      { type: "step", step: 5, time: t(40) },
      { type: "end", step: 5, time: t(41), wall_s: 13 },
    ]),
    23,
  );
});
