// `npm start`: the whole local stack on loopback — two judge replicas, the reference, the policy,
// then the orchestrator, which trains the default run with a live progress line. Every process is
// stopped at the end, on Ctrl-C, or as soon as one of them dies.
import { existsSync, mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { ChildDiedError, Supervisor, freePort } from "./supervisor.ts";
import { ROOT, engineLine, startStack, tsxProcess } from "./stack.ts";

const HELP = `usage: npm start -- [launcher options] [orchestrator --key=value options]

launcher options:
  --judges=N               judge replicas to start (default 2)
  --generator=DIR          generator checkpoint for policy and reference (default models/generator)
  --judge-model=FILE       judge ONNX model (default models/judge/model.onnx)
  --run-config=FILE        orchestrator config file (default configs/local.json)
  --run-dir=DIR            run directory (default runs/<date-time>)
  --engine=NAME            policy/reference engine: auto (default: the fastest installed —
                           onnxruntime CUDA, then tfjs-node-gpu, then onnxruntime CPU), onnx or tfjs
Everything else goes to the orchestrator (see: node --import tsx services/orchestrator/src/main.ts --help),
e.g. npm start -- --max_iters=50 --learning_rate=3e-4`;

interface LauncherArgs {
  judges: number;
  generator: string;
  judgeModel: string;
  runConfig: string;
  runDir: string;
  engine: string;
  passthrough: string[];
}

function parseArgs(argv: string[]): LauncherArgs | "help" {
  const args: LauncherArgs = {
    judges: 2,
    generator: join(ROOT, "models/generator"),
    judgeModel: join(ROOT, "models/judge/model.onnx"),
    runConfig: join(ROOT, "configs/local.json"),
    runDir: join(ROOT, "runs", new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-")),
    engine: "auto",
    passthrough: [],
  };
  for (const arg of argv) {
    const [key, value] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, ""];
    switch (key.replace(/_/g, "-")) {
      case "--help":
      case "-h":
        return "help";
      case "--judges":
        args.judges = Number(value);
        if (!Number.isInteger(args.judges) || args.judges < 1) throw new Error(`--judges=${value}: expected a positive integer`);
        break;
      case "--generator":
        args.generator = resolve(value);
        break;
      case "--judge-model":
        args.judgeModel = resolve(value);
        break;
      case "--run-config":
        args.runConfig = resolve(value);
        break;
      case "--run-dir":
        args.runDir = resolve(value);
        break;
      case "--engine":
        if (!["auto", "onnx", "tfjs"].includes(value)) throw new Error(`--engine=${value}: expected auto, onnx or tfjs`);
        args.engine = value;
        break;
      default:
        args.passthrough.push(arg);
    }
  }
  return args;
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === "help") {
    console.log(HELP);
    return 0;
  }
  const a = parsed;
  for (const [what, path, how] of [
    ["generator checkpoint", join(a.generator, "config.json"), "npm run build-models (or npm run pretrain)"],
    ["judge model", a.judgeModel, "npm run build-models"],
    ["run config", a.runConfig, "pass --run-config=FILE"],
  ] as const) {
    if (!existsSync(path)) throw new Error(`${what} not found at ${path}; ${how}`);
  }
  mkdirSync(a.runDir, { recursive: true });
  const logDir = join(a.runDir, "logs");
  const sup = new Supervisor(logDir);
  process.on("exit", () => sup.killAllNow());

  const rel = (p: string) => relative(process.cwd(), p) || ".";
  console.log(`grpo-mesh: starting ${a.judges + 2} services (logs in ${rel(logDir)}/)`);
  const t0 = performance.now();

  let interrupted = 0;
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
  let started = false;
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const stack = await startStack(
      {
        generator: a.generator,
        judgeModel: a.judgeModel,
        judges: a.judges,
        logDir,
        engine: a.engine,
        onReady: (name, ms, metricsPort) => console.log(`grpo-mesh: ${name.padEnd(9)} ready (${(ms / 1000).toFixed(1)}s) — metrics http://127.0.0.1:${metricsPort}/metrics`),
      },
      sup,
    );
    started = true;
    console.log(`grpo-mesh: ${engineLine(sup.logPath("policy"))}`);
    const orchestratorPort = await freePort();
    const orchestrator = tsxProcess(
      "orchestrator",
      "services/orchestrator/src/main.ts",
      [
        `--config=${a.runConfig}`,
        `--policy=${stack.policy}`,
        `--reference=${stack.reference}`,
        `--judges=${stack.judges.join(",")}`,
        `--address=127.0.0.1:${orchestratorPort}`,
        `--metrics-port=${await freePort()}`,
        `--run_dir=${a.runDir}`,
        // The orchestrator writes into a pipe; its progress line is rewritten in place when we are on a terminal.
        `--progress=${process.stdout.isTTY ? "line" : "log"}`,
        ...a.passthrough,
      ],
      { foreground: true },
    );
    console.log(`grpo-mesh: all services ready in ${((performance.now() - t0) / 1000).toFixed(1)}s; starting the orchestrator (run ${rel(a.runDir)})`);
    sup.start(orchestrator);
    const code = await sup.waitFor("orchestrator");
    await sup.stopAll();
    console.log(`grpo-mesh: stopped all processes${code === 0 ? "" : ` (orchestrator exit code ${code})`}`);
    return interrupted ? 130 : (code ?? 1);
  } catch (err) {
    await sup.stopAll(2_000);
    if (err instanceof ChildDiedError) {
      console.error(`\ngrpo-mesh: ${err.message}\ngrpo-mesh: stopped every other process.`);
      return 1;
    }
    throw err;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`grpo-mesh: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
