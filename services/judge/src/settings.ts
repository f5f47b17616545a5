// The judge's settings (JUDGE_* environment variables, --key=value flags): a light module that
// `npm start` and the docs generator import without loading onnxruntime.
import { setting, z, type Values } from "@grpomesh/config";
import { DEFAULT_RUN_TOKENS } from "@grpomesh/onnx-export/pieces";
import { MAX_MESSAGE_BYTES, serviceSettings } from "@grpomesh/rpc/settings";
import { EXECUTION_PROVIDER_SETTING } from "@grpomesh/onnx-export/providers";

/** A folder name inside the model repository: no "/", no hidden or ".." names. */
export const FOLDER_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export const JUDGE_SETTINGS = {
  model: setting(z.string(), "", "ONNX judge model to load at start; empty: NOT_SERVING until a LoadModel call"),
  model_version: setting(z.string(), "", "version label of the start model; empty: its grpomesh.version metadata, else its sha256 digest"),
  model_repository: setting(
    z.string(),
    "",
    "the only folder the start model, LoadModel and the poller load from (relative paths resolve against it; symlinks out of it are refused); empty: the folder of model, else ./models",
  ),
  repository_poll_ms: setting(
    z.int().min(0),
    0,
    "poll model_repository every this many ms and serve its highest complete <name>/<version>/model.onnx; 0: no polling",
  ),
  model_name: setting(
    z.string().refine((v) => v === "" || FOLDER_NAME.test(v), "a folder name inside the model repository (letters, digits, '.', '_', '-'), or empty"),
    "",
    "the repository folder the poller follows; empty: the only one present",
  ),
  ...serviceSettings("127.0.0.1:50051", 9464),
  max_batch: setting(z.int().min(1), 1024, "most sequences per Score request and per micro-batch"),
  max_message_bytes: MAX_MESSAGE_BYTES,
  execution_provider: EXECUTION_PROVIDER_SETTING,
  threads: setting(z.int().min(0), 0, "onnxruntime intra-op threads per session; 0: the CPUs split among the sessions"),
  sessions: setting(z.int().min(0), 0, "onnxruntime sessions (worker threads) per model, i.e. runs in flight at once; 0: one per CPU (1 on cuda)"),
  scheduler: setting(
    z.enum(["microbatch", "parallel"]),
    "parallel",
    "microbatch: concatenate queued requests into one run; parallel: one run per request, up to sessions at once",
  ),
  batch_window_ms: setting(z.int().min(0), 0, "microbatch: ms an idle queue waits for more requests before running"),
  run_tokens: setting(
    z.int().min(0),
    DEFAULT_RUN_TOKENS,
    "most tokens (rows × seq_len) per onnxruntime run; larger requests run in pieces, which keeps activations in cache (≈1.5× faster on CPU; cuda always runs whole requests); 0: whole requests",
  ),
};

export type JudgeConfig = Values<typeof JUDGE_SETTINGS>;
export const JUDGE_ENV_PREFIX = "JUDGE_";

/** Settings that only make sense together (the parser and startJudgeServer both check them). */
export function judgeRelations(c: JudgeConfig): string[] {
  const problems: string[] = [];
  if (c.repository_poll_ms > 0 && c.model_repository === "")
    problems.push(`repository_poll_ms is ${c.repository_poll_ms} but no model_repository is set; give the repository to poll, or --repository_poll_ms=0`);
  if (c.model_name !== "" && c.repository_poll_ms === 0)
    problems.push(
      `model_name is ${JSON.stringify(c.model_name)} but the repository is not polled; set --repository_poll_ms (e.g. 5000) with --model_repository, or drop --model_name`,
    );
  return problems;
}
