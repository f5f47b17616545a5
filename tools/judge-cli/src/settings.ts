// `npm run judge` settings: where the judges and the orchestrator are, the credentials, and what install writes where.
// GRPOMESH_* environment variables, then --key=value flags. A light module: the docs generator imports it.
import { setting, z, type Values } from "@grpomesh/config";

const fromRun = "empty: the local run's";

export const JUDGE_CLI_SETTINGS = {
  judges: setting(
    z.string(),
    "",
    `judge replicas: "host:port,host:port", "@file" or "dns:///service:port", or several named fleets "name@weight=SPEC;name=SPEC" (as the orchestrator's judges); ${fromRun}`,
  ),
  judge: setting(z.string(), "", "swap: which judge fleet (its name in the judges list); empty: the only one"),
  orchestrator: setting(z.string(), "", `the orchestrator's gRPC address host:port; ${fromRun}`),
  orchestrator_tls_name: setting(
    z.string(),
    "",
    "the name the orchestrator's certificate is checked under when it differs from the host dialled (a run's Service orchestrator-<run> in front of the shared certificate: orchestrator); empty: the host",
  ),
  version: setting(
    z.string(),
    "",
    "swap: the version the new judge is served as (empty: the model's own grpomesh.version); install: the version folder, a number (1, 2, …)",
  ),
  tls_dir: setting(z.string(), "", `folder with tls.crt, tls.key and ca.crt to call the services with; ${fromRun}, else plaintext`),
  admin_token_file: setting(z.string(), "", `file holding the admin token that swap, pause, resume and checkpoint send; ${fromRun}`),
  run_dir: setting(
    z.string(),
    "",
    "the local run (a folder npm start wrote a stack.json in) whose addresses and credentials fill in the rest; empty: the newest",
  ),
  runs_dir: setting(z.string(), "", "where the newest local run is looked for; empty: runs/ in the repository"),
  repository: setting(z.string(), "", "install: the model repository to install into (the judges' --model_repository, e.g. /models/judges)"),
  name: setting(z.string(), "", "install: the model's folder in the repository: the file goes to <repository>/<name>/<version>/model.onnx"),
  sha256: setting(z.string(), "", "install: the file's expected sha256 (64 hex digits, as sha256sum prints); empty: not checked"),
  max_model_bytes: setting(z.int().min(1), 1024 ** 3, "install: the largest model file accepted, read or downloaded (a download stops there)"),
  fetch_timeout_ms: setting(z.int().min(1), 600_000, "install: how long downloading an http(s) source may take in all"),
  keep: setting(z.string(), "", "quantize: weight initializers to leave fp32, comma-separated (e.g. score.weight); empty: every linear layer's int8"),
};

export type JudgeCliConfig = Values<typeof JUDGE_CLI_SETTINGS>;
export const JUDGE_CLI_ENV_PREFIX = "GRPOMESH_";
