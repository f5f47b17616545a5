import { test } from "node:test";
import assert from "node:assert/strict";
import { atLeastOne, ConfigError, envUsage, envVariable, parseConfigWithEnv, parsePortOrOff } from "./index.ts";

const DEFAULTS = { max_batch: 256, address: "0.0.0.0:50071", backend: "" };
const parse = (argv: string[], env: Record<string, string | undefined>) =>
  parseConfigWithEnv(DEFAULTS, { argv, env, envPrefix: "SVC_", integers: ["max_batch"], choices: { backend: ["", "wasm", "cpu"] }, maxPositional: 0 });

test("defaults, then SVC_* variables, then flags", () => {
  assert.deepEqual(parse([], {}).config, DEFAULTS);
  const env = { SVC_MAX_BATCH: "32", SVC_ADDRESS: "127.0.0.1:1", OTHER_MAX_BATCH: "7", SVC_BACKEND: undefined };
  assert.deepEqual(parse([], env).config, { max_batch: 32, address: "127.0.0.1:1", backend: "" });
  assert.deepEqual(parse(["--max-batch=64", "--backend=cpu"], env).config, { max_batch: 64, address: "127.0.0.1:1", backend: "cpu" });
  assert.equal(parse(["--help"], env).help, true);
  assert.equal(envVariable("SVC_", "max-batch"), "SVC_MAX_BATCH");
});

test("a bad variable is named as the variable, a bad flag as the flag; both are ConfigErrors", () => {
  const refused = (argv: string[], env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => parse(argv, env),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  refused([], { SVC_MAX_BATCH: "lots" }, /^environment variable SVC_MAX_BATCH: option --max_batch has value "lots"; expected an integer/);
  refused([], { SVC_BACKEND: "tpu" }, /^environment variable SVC_BACKEND: .*expected one of , wasm, cpu/);
  refused(["--max-bacth=3"], {}, /^unknown option --max-bacth; did you mean --max_batch\?/);
  refused(["positional"], {}, /expected at most 0/);
});

test("usage lists every flag with its default and variable; port and minimum checks name the flag", () => {
  assert.equal(
    envUsage(DEFAULTS, "SVC_", "svc"),
    [
      "usage: svc [--flag=value …]",
      "  --max-batch  default 256  [env SVC_MAX_BATCH]",
      '  --address  default "0.0.0.0:50071"  [env SVC_ADDRESS]',
      '  --backend  default ""  [env SVC_BACKEND]',
    ].join("\n"),
  );
  assert.equal(parsePortOrOff("off", "--metrics-port"), null);
  assert.equal(parsePortOrOff("0", "--metrics-port"), 0);
  assert.equal(parsePortOrOff("9464", "--metrics-port"), 9464);
  for (const bad of ["70000", "-1", "x", ""])
    assert.throws(() => parsePortOrOff(bad, "--metrics-port"), /--metrics-port is .*; expected a port in \[0, 65535\]/);
  assert.equal(atLeastOne(3, "--max-batch"), 3);
  assert.throws(
    () => atLeastOne(0, "--max-batch"),
    (e: unknown) => e instanceof ConfigError && /--max-batch is 0; expected an integer ≥ 1/.test(e.message),
  );
});
