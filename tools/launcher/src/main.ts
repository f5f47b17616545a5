// `npm start`: the whole local stack on loopback — two judge replicas, the reference, the policy,
// then the orchestrator, which trains the default run with a live progress line. Every channel is
// mutual TLS and the admin RPCs need the run's token (both made fresh in <run>/secrets/, reused on
// --resume). A judge replica or the reference that dies is restarted with backoff while training
// goes on; when the policy dies (or a restarted service keeps failing) the orchestrator is stopped
// first, at a step boundary, then the rest. Ctrl-C stops the orchestrator after its step, then the rest.
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { ConfigError } from "@grpomesh/config";
import { latestCheckpoint } from "@grpomesh/loop";
import { ChildDiedError, Supervisor, describeExit, freePort, runJob } from "./supervisor.ts";
import { engineLine, judgeProviderLine, runCredentials, stackFile, startStack, tsxProcess, writeStackFile } from "./stack.ts";
import { ROOT, launcherUsage, parseLauncherArgs } from "./settings.ts";
import { TASKS } from "@grpomesh/tasks/settings";
import { DEFAULT_JUDGE_NAME, parseWeightedSpecs } from "@grpomesh/orchestrator/settings";

async function main(): Promise<number> {
  // Every option of both tables (and the run config file) is checked here, before anything is spawned.
  let parsed: ReturnType<typeof parseLauncherArgs>;
  try {
    parsed = parseLauncherArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`grpo-mesh: ${err.message}\n(npm start -- --help lists every option)`);
    return 2;
  }
  if (parsed.help) {
    console.log(launcherUsage());
    return 0;
  }
  const a = parsed.launcher;
  for (const [what, path, how] of [
    ["generator checkpoint", join(a.generator, "config.json"), "npm run build-models (or npm run pretrain)"],
    ...parseWeightedSpecs(a.judge_model).map(
      (j) => [`judge model${j.name === DEFAULT_JUDGE_NAME ? "" : ` ${j.name}`}`, j.spec, "npm run build-models"] as const,
    ),
  ] as const) {
    if (!existsSync(path)) throw new Error(`${what} not found at ${path}; ${how}`);
  }
  const rel = (p: string) => relative(process.cwd(), p) || ".";
  makeRunDir(a.run_dir);
  const secrets = await runCredentials(join(a.run_dir, "secrets"), { reuse: parsed.orchestrator.resume });
  const logDir = join(a.run_dir, "logs");
  const sup = new Supervisor(logDir, { say: (line) => console.log(`grpo-mesh: ${line}`) });
  process.on("exit", () => sup.killAllNow());

  console.log(
    `grpo-mesh: mTLS on every channel, admin token in ${rel(secrets.credentials.adminTokenFile)} ` +
      `(${secrets.reused ? "the run's credentials, reused" : `fresh credentials${secrets.reason ? `: ${secrets.reason}` : ""}`})`,
  );
  console.log(`grpo-mesh: starting ${a.judges * parseWeightedSpecs(a.judge_model).length + 2} services (logs in ${rel(logDir)}/)`);
  const t0 = performance.now();

  let interrupted = 0;
  let started = false;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted++;
    if (interrupted === 1) {
      console.log(`\ngrpo-mesh: ${sig} — asking the orchestrator to stop after its current step (again to stop at once)`);
      sup.signal("orchestrator", "SIGINT");
      if (!started) void sup.stopAll(2_000).then(() => process.exit(130));
    } else {
      console.log("grpo-mesh: stopping every process now");
      void sup.stopAll(1_000).then(() => process.exit(130));
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const resumeHint = () => {
    let checkpoint: string | undefined;
    try {
      checkpoint = latestCheckpoint(a.run_dir);
    } catch (err) {
      checkpoint = undefined;
      console.error(`grpo-mesh: cannot read the run's latest checkpoint: ${(err as Error).message}`);
    }
    return `${checkpoint ? `the run's last checkpoint is ${rel(checkpoint)}` : "the run has no checkpoint yet"}; continue with: npm start -- --resume --run_dir=${rel(a.run_dir)}`;
  };

  try {
    const stack = await startStack(
      {
        generator: a.generator,
        judgeModel: a.judge_model,
        judges: a.judges,
        logDir,
        engine: a.engine,
        executionProvider: a.execution_provider,
        credentials: secrets.credentials,
        checkpointRoot: a.run_dir,
        // The reference checks its checkpoint against the task's vocabulary.
        flags: { reference: [`--dataset_meta=${join(ROOT, TASKS[parsed.orchestrator.task].dataset_meta)}`] },
        onReady: (name, ms, s) =>
          console.log(`grpo-mesh: ${name.padEnd(9)} ready (${(ms / 1000).toFixed(1)}s) — gRPC ${s.address}, metrics http://127.0.0.1:${s.metrics}/metrics`),
      },
      sup,
    );
    started = true;
    console.log(`grpo-mesh: ${engineLine(stack.services.policy!.startLine)}`);
    const firstJudge = Object.keys(stack.services).find((name) => name.startsWith("judge-"));
    if (firstJudge) console.log(`grpo-mesh: ${judgeProviderLine(stack.services[firstJudge]!.startLine)}`);
    const orchestrator = { address: `127.0.0.1:${await freePort()}`, metrics: await freePort() };
    const stackPath = writeStackFile(a.run_dir, stackFile(stack, orchestrator));
    const spec = tsxProcess(
      "orchestrator",
      "services/orchestrator/src/main.ts",
      [
        `--config=${a.run_config}`,
        ...stack.orchestratorFlags,
        `--address=${orchestrator.address}`,
        `--metrics_port=${orchestrator.metrics}`,
        `--run_dir=${a.run_dir}`,
        // The orchestrator writes into a pipe; its progress line is rewritten in place when we are on a terminal.
        `--progress=${process.stdout.isTTY ? "line" : "log"}`,
        ...parsed.orchestratorArgv,
      ],
      { foreground: true },
    );
    console.log(
      `grpo-mesh: all services ready in ${((performance.now() - t0) / 1000).toFixed(1)}s; starting the orchestrator (run ${rel(a.run_dir)}; addresses in ${rel(stackPath)})`,
    );
    const outcome = await runJob(sup, spec, {
      onDeath: (died, orchestratorRunning) => {
        console.error(`\ngrpo-mesh: ${died.message}`);
        if (orchestratorRunning)
          console.error(
            "grpo-mesh: stopping the orchestrator first, at a step boundary (the checkpoints already written stay as they are); then every other process",
          );
      },
    });
    if (outcome.died) {
      const { died } = outcome;
      console.error(
        `grpo-mesh: ${died.processName} died (${describeExit(died.code, died.signal)}); the orchestrator stopped (${describeExit(outcome.code, null)}), then every other process.`,
      );
      console.error(`grpo-mesh: ${resumeHint()}`);
      return 1;
    }
    console.log(`grpo-mesh: stopped all processes${outcome.code === 0 ? "" : ` (orchestrator exit code ${outcome.code})`}`);
    return interrupted ? 130 : (outcome.code ?? 1);
  } catch (err) {
    await sup.stopAll(2_000);
    if (err instanceof ChildDiedError) {
      console.error(`\ngrpo-mesh: ${err.message}\ngrpo-mesh: stopped every other process.`);
      return 1;
    }
    throw err;
  }
}

/** Creates the run directory, saying plainly when the filesystem refuses (read-only, full, not allowed). */
function makeRunDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    let code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      // Node's recursive mkdir can say ENOENT where the real refusal is at the nearest existing folder.
      let existing = dirname(dir);
      while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
      try {
        accessSync(existing, constants.W_OK);
      } catch (inner) {
        code = (inner as NodeJS.ErrnoException).code ?? code;
      }
    }
    const why = {
      EROFS: "the filesystem is read-only",
      ENOSPC: "the disk is full",
      EACCES: "permission denied",
      EPERM: "permission denied",
      ENOTDIR: "a part of the path is a file",
    }[code ?? ""];
    throw new Error(`cannot create the run directory ${dir}: ${why ?? (err as Error).message}; pass --run_dir=DIR on a writable disk`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`grpo-mesh: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
