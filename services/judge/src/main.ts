// The judge process: parse its settings (JUDGE_* env fallbacks), start the server, log one start line,
// shut down gracefully on SIGTERM/SIGINT. A start model that breaks the contract exits 1. The start
// line ends with tls=… admin=…, and a warning goes to stderr when the judge is not fully secured.
import { runServiceMain, commandLine } from "@grpomesh/rpc";
import { JUDGE_ENV_PREFIX, JUDGE_SETTINGS, judgeRelations } from "./settings.ts";
import { startJudgeServer, type JudgeServer } from "./judge-server.ts";
import { describeSelection } from "@grpomesh/onnx-export/providers";

await runServiceMain({
  name: "judge",
  settings: JUDGE_SETTINGS,
  envPrefix: JUDGE_ENV_PREFIX,
  command: commandLine(import.meta.url),
  check: judgeRelations,
  start: startJudgeServer,
  startFields,
  security: (s) => s.security,
  graceMs: 10_000,
});

/** Where, which model, how configured. */
function startFields(s: JudgeServer): Array<[string, string | number]> {
  const m = s.slot.current;
  const c = s.config;
  const waitingFor = c.repository_poll_ms > 0 ? "LoadModel or a complete repository version" : "LoadModel";
  return [
    ["address", s.address],
    ["model", m ? m.name : `none (NOT_SERVING until ${waitingFor})`],
    ["version", m ? m.version : "-"],
    ["path", m ? m.path : "-"],
    ["seq_len", m ? (m.info.seqLen ?? "dynamic") : "-"],
    ["vocab", m ? m.info.vocab.length : "-"],
    ["provider", describeSelection(s.provider)],
    ["provider_reason", s.provider.reason],
    ["placement", m ? m.placement : "-"],
    ["sessions", `${s.parallelism.sessions}${s.parallelism.auto.sessions ? "(auto)" : ""}`],
    ["threads", `${s.parallelism.threads}${s.parallelism.auto.threads ? "(auto)" : ""}`],
    ["scheduler", c.scheduler],
    ["max_batch", c.max_batch],
    ["batch_window_ms", c.batch_window_ms],
    ["run_tokens", s.provider.provider !== "cpu" ? "whole" : c.run_tokens || "whole"],
    ["max_message_bytes", c.max_message_bytes],
    ["metrics", s.metricsPort === null ? "off" : `:${s.metricsPort}/metrics`],
    ["repository", s.modelRoot.root],
    ["repository_from", { "--model_repository": "flag", "the folder of --model": "model", "default ./models": "default" }[s.modelRoot.source]],
    ["poll_ms", c.repository_poll_ms],
    ["model_name", c.model_name || "-"],
    ["load_ms", m ? Math.round(m.loadMs) : "-"],
  ];
}
