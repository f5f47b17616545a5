import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  PORT_OR_OFF,
  type ParseOptions,
  checkValues,
  defaults,
  formatConfig,
  markdownTable,
  nearest,
  parseSettings,
  portOrNull,
  setting,
  usage,
  z,
} from "./index.ts";

const TABLE = {
  batch_size: setting(z.int().min(1), 16, "inputs per step"),
  learning_rate: setting(z.number(), 1e-5, "peak learning rate"),
  compile: setting(z.boolean(), false, "compile the model"),
  out_dir: setting(z.string(), "runs/grpo", "where the run goes"),
  advantage_norm: setting(z.enum(["global", "group", "none"]), "global", "how advantages are normalised"),
  metrics_port: setting(PORT_OR_OFF, 9464, "/metrics port; off disables it"),
  top_p: setting(z.number().gt(0).max(1), 0.95, "nucleus mass"),
};

const parse = (argv: string[], more: ParseOptions<typeof TABLE> = {}) => parseSettings(TABLE, { argv, ...more });
const fails = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof ConfigError && re.test(e.message), String(re));

function withFile(contents: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-config-"));
  try {
    const path = join(dir, "run.json");
    writeFileSync(path, contents);
    fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("defaults come back unchanged, typed, with nothing changed", () => {
  const r = parse([]);
  assert.deepEqual(r.config, defaults(TABLE));
  assert.deepEqual([r.changed, r.positional, r.help], [[], [], false]);
  const norm: "global" | "group" | "none" = r.config.advantage_norm; // typed by the table
  assert.equal(norm, "global");
});

test("--key=value, --key value, --flag, --no-flag; dashes are an alias of underscores; last wins", () => {
  const r = parse(["--batch-size=32", "--learning_rate", "3e-4", "--compile", "--out-dir=", "--advantage_norm", "group", "--batch_size=8"]);
  assert.deepEqual(
    { ...r.config, metrics_port: 0, top_p: 0 },
    { batch_size: 8, learning_rate: 3e-4, compile: true, out_dir: "", advantage_norm: "group", metrics_port: 0, top_p: 0 },
  );
  assert.deepEqual(r.changed.sort(), ["advantage_norm", "batch_size", "compile", "learning_rate", "out_dir"]);
  assert.equal(parse(["--compile", "--no-compile"]).config.compile, false);
  assert.equal(parse(["--compile=YES"]).config.compile, true);
  assert.equal(parse(["--learning_rate", "-1e-3"]).config.learning_rate, -1e-3); // a negative number is a value
  assert.equal(parse(["--batch_size=1e3"]).config.batch_size, 1000);
  assert.equal(parse(["--out_dir=123"]).config.out_dir, "123"); // a string stays a string
});

test("a port or off: the one way to turn a listener off", () => {
  assert.equal(parse(["--metrics_port=off"]).config.metrics_port, "off");
  assert.equal(portOrNull(parse(["--metrics_port=off"]).config.metrics_port), null);
  assert.equal(parse(["--metrics_port=0"]).config.metrics_port, 0);
  fails(() => parse(["--metrics_port=-1"]), /--metrics_port is -1; expected "off" or an integer in \[0, 65535\]/);
  fails(() => parse(["--metrics_port=70000"]), /expected "off" or an integer in \[0, 65535\]/);
});

test("a bare boolean flag does not swallow the next argument; positionals only where allowed", () => {
  const r = parse(["export", "--compile", "model.onnx", "-3", "--", "--not-an-option"], { maxPositional: 9 });
  assert.equal(r.config.compile, true);
  assert.deepEqual(r.positional, ["export", "model.onnx", "-3", "--not-an-option"]);
  fails(() => parse(["stray"]), /got 1 positional argument\(s\) \("stray"\); expected none/);
  fails(() => parse(["batch_size=3"]), /looks like an option without its dashes; write --batch_size=3/);
  fails(() => parse(["-x"]), /single-dash option -x is not supported/);
});

test("unknown keys are refused with the nearest key; values with what the key accepts", () => {
  fails(() => parse(["--batch_szie=3"]), /unknown option --batch_szie; did you mean --batch_size\?/);
  fails(() => parse(["--zzzzzzzzzz=1"]), /known keys: --batch_size, --learning_rate/);
  fails(() => parseSettings({}, { argv: ["--zzzzzzzzzz=1"] }), /unknown option --zzzzzzzzzz; this command takes none/);
  fails(() => parse(["--batch_size=0"]), /option --batch_size is 0; expected an integer ≥ 1/);
  fails(() => parse(["--batch_size=2.5"]), /expected an integer ≥ 1/);
  fails(() => parse(["--learning_rate=fast"]), /option --learning_rate is "fast"; expected a number/);
  fails(() => parse(["--top_p=0"]), /expected a number in \(0, 1\]/);
  fails(() => parse(["--compile=maybe"]), /expected true or false/);
  fails(() => parse(["--advantage_norm=grup"]), /expected one of global, group, none \(did you mean group\?\)/);
  fails(() => parse(["--batch_size"]), /option --batch_size needs a value/);
  fails(() => parse([`--out_dir`, "x".repeat(5000), `--batch_size=${"9".repeat(900)}x`]), /is "9{200}…"/); // echoed truncated
});

test("environment between the defaults and the file; the file before the flags; errors name their source", () => {
  const env = { SVC_BATCH_SIZE: "4", SVC_COMPILE: "true", OTHER_BATCH_SIZE: "99" };
  withFile(JSON.stringify({ batch_size: 5, "learning-rate": 0.5 }), (path) => {
    const r = parse([`--config=${path}`, "--learning_rate=0.25"], { env, envPrefix: "SVC_" });
    assert.deepEqual([r.config.batch_size, r.config.compile, r.config.learning_rate, r.configFile], [5, true, 0.25, path]);
    assert.deepEqual(r.sources, { batch_size: "file", compile: "environment", learning_rate: "flag" }, "where each given key got its value");
  });
  assert.deepEqual(parse(["--top_p=0.95"]).sources, { top_p: "flag" }, "a key given its default value was still given");
  assert.equal(parse([], { env, envPrefix: "SVC_" }).config.batch_size, 4);
  assert.equal(parse(["--batch_size=6"], { env, envPrefix: "SVC_" }).config.batch_size, 6);
  fails(() => parse([], { env: { SVC_BATCH_SIZE: "0" }, envPrefix: "SVC_" }), /environment variable SVC_BATCH_SIZE is 0; expected an integer ≥ 1/);
});

test("config file errors: unknown keys, JSON types (no coercion), bad JSON, missing file", () => {
  withFile(JSON.stringify({ batch_szie: 3 }), (p) =>
    fails(() => parse([`--config=${p}`]), /unknown key "batch_szie" in config file .*; did you mean "batch_size"\?/),
  );
  withFile(JSON.stringify({ batch_size: "3" }), (p) =>
    fails(() => parse([`--config=${p}`]), /key "batch_size" in config file .* is "3"; expected an integer ≥ 1/),
  );
  withFile("{nope", (p) => fails(() => parse([`--config=${p}`]), /is not valid JSON/));
  withFile("[1]", (p) => fails(() => parse([`--config=${p}`]), /must hold a JSON object.*got an array/));
  fails(() => parse(["--config=/nonexistent/run.json"]), /cannot read config file/);
});

test("relations between keys; values built in code are checked by the same rows", () => {
  const check = (c: ReturnType<typeof defaults<typeof TABLE>>) => (c.batch_size > 8 && c.top_p < 0.5 ? ["batch_size > 8 needs top_p ≥ 0.5"] : []);
  fails(() => parse(["--batch_size=9", "--top_p=0.1"], { check }), /^batch_size > 8 needs top_p ≥ 0.5$/);
  checkValues(TABLE, defaults(TABLE), check);
  fails(
    () => checkValues(TABLE, { ...defaults(TABLE), batch_size: 0, top_p: 3 }),
    /invalid settings:\n {2}batch_size is 0; .*\n {2}top_p is 3; expected a number in \(0, 1\]/,
  );
});

test("--help, usage and the Markdown table list every key with what it accepts, default, variable and description", () => {
  assert.equal(parse(["--help"]).help, true);
  assert.equal(parse(["-h"]).help, true);
  const text = usage(TABLE, "svc", "SVC_");
  assert.match(text, /--batch_size {2}\(an integer ≥ 1; default 16\) {2}\[env SVC_BATCH_SIZE\]\n {6}inputs per step/);
  assert.match(text, /--advantage_norm {2}\(one of global, group, none; default "global"\)/);
  const md = markdownTable(TABLE, "SVC_");
  assert.match(md, /\| `metrics_port` \| "off" or an integer in \[0, 65535\] \| `9464` \| `SVC_METRICS_PORT` \| \/metrics port; off disables it \|/);
  assert.equal(md.split("\n").length, 2 + Object.keys(TABLE).length);
});

test("a table whose default breaks its own type, or a key that is not snake_case, is refused", () => {
  assert.throws(() => parseSettings({ n: setting(z.int().min(1), 0, "n") }, { argv: [] }), /setting n: default 0 is not an integer ≥ 1/);
  assert.throws(() => parseSettings({ "bad-key": setting(z.int(), 0, "x") }, { argv: [] }), /keys are snake_case/);
});

test("formatConfig prints aligned key = value lines and marks changes; nearest suggests only plausible typos", () => {
  assert.equal(formatConfig({ a: 1, long_key: "x" }, { a: 2, long_key: "x" }), 'a        = 1  # default: 2\nlong_key = "x"');
  assert.equal(nearest("lerning_rate", ["learning_rate", "batch_size"]), "learning_rate");
  assert.equal(nearest("zzz", ["learning_rate"]), undefined);
});

test("parseCommandLine: the process environment under its prefix; --help prints the usage and exits 0; a bad setting prints the message and exits 2", () => {
  const script = `import { parseCommandLine, setting, z } from ${JSON.stringify(new URL("./index.ts", import.meta.url).href)};
const { config } = parseCommandLine({ steps: setting(z.int().min(1), 3, "how many steps") }, "demo", { argv: JSON.parse(process.env.ARGV), envPrefix: "DEMO_" });
console.log("steps", config.steps);`;
  const run = (...argv: string[]) => runWith({}, ...argv);
  const runWith = (env: Record<string, string>, ...argv: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, ARGV: JSON.stringify(argv), ...env },
    });
  assert.equal(runWith({ DEMO_STEPS: "7" }).stdout, "steps 7\n");
  assert.equal(runWith({ DEMO_STEPS: "7" }, "--steps=8").stdout, "steps 8\n");
  assert.match(runWith({ DEMO_STEPS: "0" }).stderr, /^environment variable DEMO_STEPS is 0; expected an integer ≥ 1/);
  const ok = run("--steps=5");
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, "steps 5\n");
  const help = run("--help");
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: demo [\s\S]*--steps {2}\(an integer ≥ 1; default 3\) {2}\[env DEMO_STEPS\]\n {6}how many steps/);
  const bad = run("--steps=0");
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, "");
  assert.equal(bad.stderr, "option --steps is 0; expected an integer ≥ 1\n(demo --help lists every setting)\n");
});
