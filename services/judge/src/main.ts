// The judge process: parse flags (JUDGE_* env fallbacks), start the server, log one start line,
// shut down gracefully on SIGTERM/SIGINT. A start model that breaks the contract exits 1.
import { ConfigError, judgeUsage, parseJudgeConfig, wantsHelp } from "./config.ts";
import { startJudgeServer, type JudgeServer } from "./judge-server.ts";

const argv = process.argv.slice(2);
if (wantsHelp(argv)) {
  console.log(judgeUsage());
  process.exit(0);
}

let server: JudgeServer;
try {
  const config = parseJudgeConfig(argv, process.env);
  server = await startJudgeServer(config);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`judge: ${err.message}\n${judgeUsage()}`);
    process.exit(2);
  }
  console.error(`judge: cannot start: ${(err as Error).message}`);
  process.exit(1);
}

console.log(startLine(server));

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`judge: ${signal}, draining requests and shutting down`);
    server.shutdown(10_000).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`judge: shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  });
}

/** One key=value line a person or a log parser can read: where, which model, how configured. */
function startLine(s: JudgeServer): string {
  const m = s.slot.current;
  const c = s.config;
  const fields: Array<[string, string | number]> = [
    ["address", s.address],
    ["model", m ? m.name : "none (NOT_SERVING until LoadModel)"],
    ["version", m ? m.version : "-"],
    ["path", m ? m.path : "-"],
    ["seq_len", m ? (m.info.seqLen ?? "dynamic") : "-"],
    ["vocab", m ? m.info.vocab.length : "-"],
    ["provider", c.executionProvider],
    ["sessions", `${s.parallelism.sessions}${s.parallelism.auto.sessions ? "(auto)" : ""}`],
    ["threads", `${s.parallelism.threads}${s.parallelism.auto.threads ? "(auto)" : ""}`],
    ["scheduler", c.scheduler],
    ["max_batch", c.maxBatch],
    ["batch_window_ms", c.batchWindowMs],
    ["max_message_bytes", c.maxMessageBytes],
    ["metrics", s.metricsPort === null ? "off" : `:${s.metricsPort}/metrics`],
    ["repository", c.modelRepository ?? "-"],
    ["load_ms", m ? Math.round(m.loadMs) : "-"],
  ];
  return `judge: serving ${fields.map(([k, v]) => `${k}=${String(v).includes(" ") ? JSON.stringify(String(v)) : v}`).join(" ")}`;
}
