// The judge's settings table as its command line reads it: defaults, JUDGE_* variables, flags
// (underscores, dashes an alias), bad values and relations refused by name, and --help.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, defaults, parseSettings, usage } from "@grpomesh/config";
import { JUDGE_ENV_PREFIX, JUDGE_SETTINGS, judgeRelations } from "./settings.ts";

const parse = (argv: string[], env: Record<string, string> = {}) =>
  parseSettings(JUDGE_SETTINGS, { argv, env, envPrefix: JUDGE_ENV_PREFIX, check: judgeRelations }).config;

test("defaults when nothing is given: auto provider, parallel, one session per CPU, loopback, no credentials, no polling", () => {
  const c = parse([]);
  assert.deepEqual(c, defaults(JUDGE_SETTINGS));
  assert.deepEqual(
    {
      p: c.execution_provider,
      s: c.scheduler,
      n: c.sessions,
      a: c.address,
      h: c.metrics_host,
      t: c.tls_dir,
      k: c.admin_token_file,
      poll: c.repository_poll_ms,
    },
    { p: "auto", s: "parallel", n: 0, a: "127.0.0.1:50051", h: "127.0.0.1", t: "", k: "", poll: 0 },
  );
});

test("environment fills in, flags win over it; dashes are an alias of underscores", () => {
  const env = { JUDGE_MODEL: "env.onnx", JUDGE_MAX_BATCH: "64", JUDGE_THREADS: "2", JUDGE_METRICS_PORT: "off", JUDGE_TLS_DIR: "/ignored" };
  const c = parse(["--model=flag.onnx", "--max_message_bytes=1024", "--execution-provider=cuda", "--batch_window_ms=3", "--tls_dir=/secrets/tls"], env);
  assert.deepEqual(
    [c.model, c.max_batch, c.threads, c.metrics_port, c.max_message_bytes, c.execution_provider, c.batch_window_ms, c.tls_dir],
    ["flag.onnx", 64, 2, "off", 1024, "cuda", 3, "/secrets/tls"],
  );
  assert.equal(parse(["--tls_dir="], { JUDGE_TLS_DIR: "/x" }).tls_dir, "", "empty: plaintext");
  const polled = parse(["--model_name=judge"], { JUDGE_MODEL_REPOSITORY: "/models", JUDGE_REPOSITORY_POLL_MS: "5000" });
  assert.deepEqual([polled.model_repository, polled.repository_poll_ms, polled.model_name], ["/models", 5000, "judge"]);
});

test("unknown flags, bad values and flags that need each other are refused by name", () => {
  const refused = (argv: string[], env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => parse(argv, env),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  refused(["--modle=x.onnx"], {}, /unknown option --modle; did you mean --model\?/);
  refused(["model.onnx"], {}, /got 1 positional argument\(s\) \("model.onnx"\)/);
  refused(["--max_batch=0"], {}, /option --max_batch is 0; expected an integer ≥ 1/);
  refused(["--threads=-1"], {}, /option --threads is -1; expected an integer ≥ 0/);
  refused(["--metrics_port=70000"], {}, /option --metrics_port is 70000; expected "off" or an integer in \[0, 65535\]/);
  refused(["--execution_provider=tpu"], {}, /option --execution_provider is "tpu"; expected one of auto, cpu, webgpu, cuda/);
  refused(["--scheduler=microbatsh"], {}, /expected one of microbatch, parallel \(did you mean microbatch\?\)/);
  refused(["--metrics_host="], {}, /option --metrics_host is ""; expected a non-empty string/);
  refused([], { JUDGE_MAX_BATCH: "lots" }, /environment variable JUDGE_MAX_BATCH is "lots"/);
  refused(["--repository_poll_ms=500"], {}, /repository_poll_ms is 500 but no model_repository is set/);
  refused(["--model_repository=/m", "--model_name=judge"], {}, /model_name is "judge" but the repository is not polled/);
  refused(["--model_repository=/m", "--repository_poll_ms=5", "--model_name=../etc"], {}, /option --model_name is "..\/etc"; expected a folder name/);
});

test("--help lists every setting with its variable, what it accepts and its description", () => {
  assert.equal(parseSettings(JUDGE_SETTINGS, { argv: ["--help"] }).help, true);
  const text = usage(JUDGE_SETTINGS, "judge", JUDGE_ENV_PREFIX);
  for (const key of Object.keys(JUDGE_SETTINGS)) assert.ok(text.includes(`--${key}  (`), `usage lacks --${key}`);
  assert.match(text, /--scheduler {2}\(one of microbatch, parallel; default "parallel"\) {2}\[env JUDGE_SCHEDULER\]/);
});
