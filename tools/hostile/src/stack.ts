// The stack under attack: policy, reference and one judge as the launcher's startStack runs them
// (nothing restarted), and an orchestrator running a seeded run on the same Supervisor, each a real
// process on loopback with mutual TLS and an admin token, on tiny models in a temp folder. The
// orchestrator is paused once it has trained a step, so the run state holds still and any change
// to it is the hostile traffic's doing.
import type { ChildProcess } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCorpus } from "@grpomesh/data";
import { Supervisor, freePort, startStack, tsxProcess, writeCharacterJudge, writeTinyGenerator } from "@grpomesh/launcher";
import { initBackend } from "@grpomesh/model";
import { DataType, JudgeService, OrchestratorService, PolicyService, RunState } from "@grpomesh/proto";
import { createClient, type Client, type Security } from "@grpomesh/rpc";
import { SERVICES, type ServiceName, type StackFacts } from "./cases.ts";

/** Largest request the policy, reference and judge accept here (small, so "oversized" is cheap to send). */
export const SERVICE_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/**
 * The orchestrator's bound on one judge swap (--judge_swap_deadline_ms): SwapJudge calls queue at
 * the step boundary, so a call may wait for the swaps ahead of it (cases.ts gives it four bounds).
 */
export const SWAP_DEADLINE_MS = 5_000;
/** The orchestrator has no flag for it: libs/rpc's default. */
export const ORCHESTRATOR_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface HostileStack {
  dir: string;
  targets: Record<ServiceName, string>;
  /** Client certificate and admin token. */
  security: Security;
  facts: StackFacts;
  /** Folders and files the services may read and write on request (the state snapshot covers them). */
  watched: string[];
  /** Names of processes that exited. */
  dead(): ServiceName[];
  /** A process's last lines of output. */
  logTail(name: ServiceName): string;
  stop(): Promise<void>;
}

export interface StackOptions {
  dir: string;
  seed: number;
  log?: (line: string) => void;
  timeoutMs?: number;
}

/** Builds the models and folders, starts the four services, waits, and pauses the run after its first step. */
export async function startHostileStack(opts: StackOptions): Promise<HostileStack> {
  const { dir, log = () => {} } = opts;
  const timeoutMs = opts.timeoutMs ?? 120_000;

  // --- models and the folders hostile paths aim at ---
  await initBackend(undefined, { log: false });
  const corpus = loadCorpus();
  const vocab = corpus.vocab.tokens;
  const seqLen = 32;
  const generator = join(dir, "generator");
  writeTinyGenerator(generator, vocab, { seqLen, seed: opts.seed });
  const repository = join(dir, "judges");
  const servingModel = join(repository, "count-e", "1", "model.onnx");
  writeCharacterJudge(servingModel, vocab, "e", { seqLen });
  const swapped = [...vocab];
  [swapped[10], swapped[11]] = [swapped[11]!, swapped[10]!];
  writeCharacterJudge(join(repository, "other-vocab", "1", "model.onnx"), swapped, "e", { seqLen, version: "other-vocab-v1" });
  writeFileSync(join(repository, "notes.onnx"), "not an ONNX model\n");
  const outside = join(dir, "outside");
  writeCharacterJudge(join(outside, "model.onnx"), vocab, "e", { seqLen, version: "outside-v1" });
  symlinkSync(outside, join(repository, "escape"));
  const runDir = join(dir, "run");
  mkdirSync(join(runDir, "victim-dir"), { recursive: true });
  writeFileSync(join(runDir, "victim.txt"), "not a checkpoint\n");
  writeFileSync(join(runDir, "victim-dir", "keep.txt"), "not a checkpoint either\n");
  // A symlink inside the checkpoint root to a real checkpoint outside it: loading it would roll the policy back.
  symlinkSync(generator, join(runDir, "escape"));

  const logDir = join(dir, "logs");
  const sup = new Supervisor(logDir);
  const procName = (name: ServiceName) => (name === "judge" ? "judge-0" : name);
  const logTail = (name: ServiceName) => sup.get(procName(name)).tail.join("\n");
  const stop = () => sup.stopAll(10_000);
  let targets: Record<ServiceName, string>;
  let security: Security;
  try {
    const stack = await startStack(
      {
        generator,
        judgeModel: servingModel,
        judges: 1,
        logDir,
        threads: 1,
        checkpointRoot: runDir,
        // A death is a finding here: nothing is restarted.
        restart: false,
        timeoutMs,
        flags: {
          judge: [`--model_repository=${repository}`, `--max_message_bytes=${SERVICE_MAX_MESSAGE_BYTES}`],
          reference: [`--max_message_bytes=${SERVICE_MAX_MESSAGE_BYTES}`],
          policy: [`--max_message_bytes=${SERVICE_MAX_MESSAGE_BYTES}`],
        },
        onReady: (name, _ms, s) => log(`${name} serving on ${s.address}`),
      },
      sup,
    );
    security = stack.clientSecurity;
    targets = {
      judge: stack.judges[0]!,
      reference: stack.reference,
      policy: stack.policy,
      orchestrator: `127.0.0.1:${await freePort()}`,
    };
    await sup.startAll(
      [
        tsxProcess(
          "orchestrator",
          "services/orchestrator/src/main.ts",
          [
            ...stack.orchestratorFlags,
            `--address=${targets.orchestrator}`,
            `--run_dir=${runDir}`,
            `--seed=${opts.seed}`,
            "--task=kjv",
            "--max_iters=100000",
            "--batch_size=2",
            "--group_size=2",
            "--eval_interval=100000",
            "--eval_batches=1",
            "--sample_interval=100000",
            "--checkpoint_interval=100000",
            "--warmup_iters=1",
            "--progress=log",
            "--log_every=1",
            `--judge_swap_deadline_ms=${SWAP_DEADLINE_MS}`,
          ],
          { healthTarget: targets.orchestrator, healthSecurity: security },
        ),
      ],
      { timeoutMs },
    );
    log(`orchestrator serving on ${targets.orchestrator}`);
  } catch (err) {
    await stop();
    throw err;
  }

  // --- pause the run after its first step, and wait until nothing moves ---
  const orchestrator = createClient(OrchestratorService, targets.orchestrator, { security, deadlineMs: 30_000 });
  const policy = createClient(PolicyService, targets.policy, { security, deadlineMs: 30_000 });
  const judge = createClient(JudgeService, targets.judge, { security, deadlineMs: 30_000 });
  try {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = await orchestrator.status({});
      if (s.state === RunState.FAILED || s.state === RunState.DONE)
        throw new Error(`the run ended (${RunState[s.state]}) before it could be paused: ${s.error}\n${logTail("orchestrator")}`);
      if (s.step >= 1) break;
      if (Date.now() > until) throw new Error(`the run did not finish a step within ${timeoutMs} ms:\n${logTail("orchestrator")}`);
      await sleep(200);
    }
    await orchestrator.pause({});
    const lastStep = await settledStep(orchestrator, policy, until);
    log(`run paused at step ${lastStep}`);
    const info = await policy.info({});
    const judgeInfo = await judge.info({});
    const facts: StackFacts = {
      vocabSize: info.config!.vocabSize,
      seqLen: info.config!.seqLen,
      maskTokenId: info.vocab!.maskTokenId,
      judgeDtype: judgeInfo.inputDtype === DataType.INT64 ? DataType.INT64 : DataType.INT32,
      lastStep,
      maxMessageBytes: {
        policy: SERVICE_MAX_MESSAGE_BYTES,
        reference: SERVICE_MAX_MESSAGE_BYTES,
        judge: SERVICE_MAX_MESSAGE_BYTES,
        orchestrator: ORCHESTRATOR_MAX_MESSAGE_BYTES,
      },
      policyPaths: { symlinkOut: "escape", victimFile: "victim.txt", victimDir: "victim-dir" },
      judgePaths: {
        symlinkOut: "escape/model.onnx",
        servingModel,
        otherVocabModel: join(repository, "other-vocab", "1", "model.onnx"),
        notOnnx: join(repository, "notes.onnx"),
      },
    };
    return {
      dir,
      targets,
      security,
      facts,
      watched: [dir, "/etc/passwd"],
      dead: () => (Object.keys(SERVICES) as ServiceName[]).filter((n) => !alive(sup.get(procName(n)).child)),
      logTail,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  } finally {
    orchestrator.close();
    policy.close();
    judge.close();
  }
}

/** Waits until the policy's last step equals the orchestrator's step and both hold for a second. */
async function settledStep(orchestrator: Client<typeof OrchestratorService>, policy: Client<typeof PolicyService>, until: number): Promise<number> {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const [s, p] = await Promise.all([orchestrator.status({}), policy.info({})]);
    const step = s.step === p.lastStep ? s.step : -1;
    if (step !== last) {
      last = step;
      since = Date.now();
    } else if (step >= 0 && Date.now() - since >= 1_500) return step;
    if (Date.now() > until) throw new Error(`the run did not hold still after Pause (orchestrator step ${s.step}, policy last_step ${p.lastStep})`);
    await sleep(250);
  }
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
