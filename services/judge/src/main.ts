// The judge process: parse flags (JUDGE_* env fallbacks), start the server, log one start line,
// shut down gracefully on SIGTERM/SIGINT. A start model that breaks the contract exits 1. The start
// line ends with tls=… admin=…, and a warning goes to stderr when the judge is not fully secured.
import { DASH_FLAGS, runServiceMain } from "@grpomesh/rpc";
import { judgeUsage, parseJudgeConfig, wantsHelp } from "./config.ts";
import { startJudgeServer, type JudgeServer } from "./judge-server.ts";

await runServiceMain({
  name: "judge",
  parse: (argv, env) => (wantsHelp(argv) ? { help: true } : { config: parseJudgeConfig(argv, env), help: false }),
  usage: judgeUsage,
  start: startJudgeServer,
  startFields,
  security: (s) => s.security,
  securityFlags: DASH_FLAGS,
  graceMs: 10_000,
});

/** Where, which model, how configured. */
function startFields(s: JudgeServer): Array<[string, string | number]> {
  const m = s.slot.current;
  const c = s.config;
  const waitingFor = c.repositoryPollMs > 0 ? "LoadModel or a complete repository version" : "LoadModel";
  return [
    ["address", s.address],
    ["model", m ? m.name : `none (NOT_SERVING until ${waitingFor})`],
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
    ["run_tokens", c.executionProvider === "cuda" ? "whole" : c.runTokens || "whole"],
    ["max_message_bytes", c.maxMessageBytes],
    ["metrics", s.metricsPort === null ? "off" : `:${s.metricsPort}/metrics`],
    ["repository", s.modelRoot.root],
    ["repository_from", { "--model-repository": "flag", "the folder of --model": "model", "default ./models": "default" }[s.modelRoot.source]],
    ["poll_ms", c.repositoryPollMs],
    ["model_name", c.modelName ?? "-"],
    ["load_ms", m ? Math.round(m.loadMs) : "-"],
  ];
}
