import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, DEFAULT_JUDGE_CONFIG, judgeUsage, parseJudgeConfig, wantsHelp } from "./config.ts";

test("defaults when nothing is given", () => {
  assert.deepEqual(parseJudgeConfig([], {}), DEFAULT_JUDGE_CONFIG);
  assert.equal(DEFAULT_JUDGE_CONFIG.executionProvider, "cpu");
  assert.equal(DEFAULT_JUDGE_CONFIG.scheduler, "parallel");
  assert.equal(DEFAULT_JUDGE_CONFIG.sessions, 0, "sessions default to one per CPU");
  const c = DEFAULT_JUDGE_CONFIG;
  assert.deepEqual(
    { a: c.address, h: c.metricsHost, t: c.tlsDir, k: c.adminTokenFile },
    { a: "127.0.0.1:50051", h: "127.0.0.1", t: null, k: null },
    "safe defaults: loopback, no credentials",
  );
});

test("security flags: --tls-dir, --admin-token-file, --metrics-host, or JUDGE_* variables; empty means none", () => {
  const c = parseJudgeConfig(["--tls-dir=/secrets/tls", "--metrics-host=0.0.0.0"], {
    JUDGE_ADMIN_TOKEN_FILE: "/secrets/admin/token",
    JUDGE_TLS_DIR: "/ignored",
  });
  assert.deepEqual({ t: c.tlsDir, k: c.adminTokenFile, h: c.metricsHost }, { t: "/secrets/tls", k: "/secrets/admin/token", h: "0.0.0.0" });
  assert.equal(parseJudgeConfig(["--tls-dir="], { JUDGE_TLS_DIR: "/x" }).tlsDir, null);
  assert.equal(parseJudgeConfig([], { JUDGE_METRICS_HOST: "::" }).metricsHost, "::");
  assert.throws(() => parseJudgeConfig(["--metrics-host="]), /--metrics-host is ""; expected a non-empty string/);
  assert.match(judgeUsage(), /--model-repository=….*default the folder of --model, else \.\/models\]/);
});

test("environment fills in, flags win over the environment", () => {
  const env = { JUDGE_MODEL: "env.onnx", JUDGE_MAX_BATCH: "64", JUDGE_THREADS: "2", JUDGE_METRICS_PORT: "off", JUDGE_SCHEDULER: "parallel" };
  const c = parseJudgeConfig(
    ["--model=flag.onnx", "--address=127.0.0.1:0", "--max-message-bytes=1024", "--execution-provider=cuda", "--batch-window-ms=3"],
    env,
  );
  assert.equal(c.model, "flag.onnx");
  assert.equal(c.address, "127.0.0.1:0");
  assert.equal(c.maxBatch, 64);
  assert.equal(c.threads, 2);
  assert.equal(c.metricsPort, null);
  assert.equal(c.maxMessageBytes, 1024);
  assert.equal(c.executionProvider, "cuda");
  assert.equal(c.scheduler, "parallel");
  assert.equal(c.batchWindowMs, 3);
  assert.equal(parseJudgeConfig(["--metrics-port=0", "--model-repository=/models", "--model-version=v9"], {}).metricsPort, 0);
});

test("unknown flags, malformed arguments and bad values are refused by name", () => {
  const refused = (argv: string[], env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => parseJudgeConfig(argv, env),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  refused(["--modle=x.onnx"], {}, /unknown flag --modle; known flags: --model, /);
  refused(["model.onnx"], {}, /"model.onnx" is not of the form --flag=value/);
  refused(["--max-batch=0"], {}, /--max-batch is "0"; expected an integer ≥ 1/);
  refused(["--max-batch=12x"], {}, /--max-batch is "12x"/);
  refused(["--threads=-1"], {}, /--threads is "-1"; expected an integer ≥ 0/);
  refused(["--metrics-port=70000"], {}, /--metrics-port is "70000"; expected a port in \[0, 65535\] or 'off'/);
  refused(["--execution-provider=tpu"], {}, /--execution-provider is "tpu"; expected cpu or cuda/);
  refused(["--scheduler=fifo"], {}, /--scheduler is "fifo"; expected microbatch or parallel/);
  refused(["--model="], {}, /--model is ""; expected a non-empty path/);
  refused([], { JUDGE_MAX_BATCH: "lots" }, /environment variable JUDGE_MAX_BATCH is "lots"/);
  refused(["--repository-poll-ms=500"], {}, /--repository-poll-ms is 500 but no --model-repository is set/);
  refused(["--model-repository=/m", "--model-name=judge"], {}, /--model-name is "judge" but the repository is not polled/);
  refused(["--model-repository=/m", "--repository-poll-ms=5", "--model-name=../etc"], {}, /--model-name is "..\/etc"; expected a folder name/);
});

test("the repository poller is off by default and set by flag or JUDGE_REPOSITORY_POLL_MS", () => {
  assert.equal(DEFAULT_JUDGE_CONFIG.repositoryPollMs, 0);
  const c = parseJudgeConfig(["--model-name=judge"], { JUDGE_MODEL_REPOSITORY: "/models", JUDGE_REPOSITORY_POLL_MS: "5000" });
  assert.deepEqual([c.modelRepository, c.repositoryPollMs, c.modelName], ["/models", 5000, "judge"]);
});

test("--help is recognised and the usage lists every flag with its env variable", () => {
  assert.ok(wantsHelp(["--help"]));
  assert.ok(!wantsHelp(["--model=x"]));
  const usage = judgeUsage();
  for (const flag of [
    "--model",
    "--address",
    "--metrics-port",
    "--metrics-host",
    "--tls-dir",
    "--admin-token-file",
    "--max-batch",
    "--max-message-bytes",
    "--execution-provider",
    "--threads",
    "--model-repository",
    "--scheduler",
    "--repository-poll-ms",
    "--model-name",
  ]) {
    assert.ok(usage.includes(`${flag}=`), `usage lacks ${flag}`);
  }
  assert.match(usage, /env JUDGE_MODEL;/);
});
