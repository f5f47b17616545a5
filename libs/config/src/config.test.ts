import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatConfig, nearest, parseConfig } from "./index.ts";

const DEFAULTS = {
  batch_size: 16,
  learning_rate: 1e-5,
  compile: false,
  out_dir: "runs/grpo",
  advantage_norm: "global" as "global" | "group" | "none",
};
const SPEC = {
  integers: ["batch_size"] as const,
  choices: { advantage_norm: ["global", "group", "none"] },
};

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
  const r = parseConfig(DEFAULTS, { ...SPEC, argv: [] });
  assert.deepEqual(r.config, DEFAULTS);
  assert.deepEqual(r.changed, []);
  assert.deepEqual(r.positional, []);
  assert.equal(r.help, false);
  const lr: number = r.config.learning_rate; // typed by the defaults
  assert.equal(lr, 1e-5);
});

test("--key=value, --key value, --flag, --no-flag; dashes and underscores are equivalent; last wins", () => {
  const r = parseConfig(DEFAULTS, {
    ...SPEC,
    argv: ["--batch-size=32", "--learning_rate", "3e-4", "--compile", "--out-dir=", "--advantage_norm", "group", "--batch_size=8"],
  });
  assert.deepEqual(r.config, { batch_size: 8, learning_rate: 3e-4, compile: true, out_dir: "", advantage_norm: "group" });
  assert.deepEqual(r.changed.sort(), ["advantage_norm", "batch_size", "compile", "learning_rate", "out_dir"]);
  assert.equal(parseConfig(DEFAULTS, { argv: ["--compile", "--no-compile"] }).config.compile, false);
  assert.equal(parseConfig(DEFAULTS, { argv: ["--compile=false"] }).config.compile, false);
  assert.equal(parseConfig(DEFAULTS, { argv: ["--compile=YES"] }).config.compile, true);
  // a negative number is a value, not an option
  assert.equal(parseConfig(DEFAULTS, { argv: ["--learning_rate", "-1e-3"] }).config.learning_rate, -1e-3);
  // integer-marked keys accept integer-valued exponents
  assert.equal(parseConfig(DEFAULTS, { ...SPEC, argv: ["--batch_size=1e3"] }).config.batch_size, 1000);
});

test("a bare boolean flag does not swallow the next argument; positionals pass through", () => {
  const r = parseConfig(DEFAULTS, { argv: ["export", "--compile", "model.onnx", "-", "-3", "--", "--not-an-option"] });
  assert.equal(r.config.compile, true);
  assert.deepEqual(r.positional, ["export", "model.onnx", "-", "-3", "--not-an-option"]);
  assert.throws(() => parseConfig(DEFAULTS, { argv: ["a", "b"], maxPositional: 1 }), /got 2 positional argument\(s\) \("a" "b"\); expected at most 1/);
});

test("unknown options are refused with the nearest key", () => {
  assert.throws(() => parseConfig(DEFAULTS, { argv: ["--lerning_rate=1"] }), {
    message: "unknown option --lerning_rate; did you mean --learning_rate?",
  });
  assert.throws(() => parseConfig(DEFAULTS, { argv: ["--batchsize", "4"] }), /did you mean --batch_size\?/);
  // nothing close: list what exists
  assert.throws(
    () => parseConfig(DEFAULTS, { argv: ["--zzz=1"] }),
    /unknown option --zzz; known options: --batch_size, --learning_rate, --compile, --out_dir, --advantage_norm/,
  );
  assert.throws(() => parseConfig(DEFAULTS, { argv: ["--no-batch_size"] }), /unknown option --no-batch_size/);
  assert.throws(() => parseConfig(DEFAULTS, { argv: ["-lr=3"] }), /single-dash option -lr=3 is not supported/);
  assert.throws(() => parseConfig(DEFAULTS, { argv: ["learning_rate=3"] }), /looks like an option without its dashes; write --learning_rate=3/);
});

test("type errors name the key, the value and the expected type", () => {
  const bad = (argv: string[], re: RegExp) => assert.throws(() => parseConfig(DEFAULTS, { ...SPEC, argv }), re);
  bad(["--batch_size=abc"], /option --batch_size has value "abc"; expected an integer/);
  bad(["--batch_size=2.5"], /option --batch_size has value "2.5"; expected an integer/);
  bad(["--learning_rate=fast"], /option --learning_rate has value "fast"; expected a number/);
  bad(["--learning_rate=Infinity"], /expected a number/);
  bad(["--learning_rate="], /option --learning_rate has value ""; expected a number/);
  bad(["--compile=maybe"], /option --compile has value "maybe"; expected a boolean \(true\/false\)/);
  bad(["--learning_rate"], /option --learning_rate needs a value: --learning_rate=VALUE/);
  bad(["--learning_rate", "--compile"], /option --learning_rate needs a value/);
});

test("enum errors list the choices (and suggest the nearest)", () => {
  assert.throws(() => parseConfig(DEFAULTS, { ...SPEC, argv: ["--advantage_norm=grup"] }), {
    message: 'option --advantage_norm has value "grup"; expected one of global, group, none (did you mean group?)',
  });
  assert.throws(() => parseConfig(DEFAULTS, { ...SPEC, argv: ["--advantage_norm=batch"] }), /expected one of global, group, none$/);
});

test("a JSON config file sits between the defaults and the argv overrides", () => {
  withFile(JSON.stringify({ "batch-size": 64, learning_rate: 0.001, advantage_norm: "none" }), (path) => {
    const r = parseConfig(DEFAULTS, { ...SPEC, argv: [`--config=${path}`, "--learning_rate=0.002"] });
    assert.deepEqual(r.config, { ...DEFAULTS, batch_size: 64, learning_rate: 0.002, advantage_norm: "none" });
    assert.equal(r.configFile, path);
    // the same file given as an option, and --config PATH with a space
    assert.equal(parseConfig(DEFAULTS, { ...SPEC, argv: [], file: path }).config.batch_size, 64);
    assert.equal(parseConfig(DEFAULTS, { ...SPEC, argv: ["--config", path] }).config.batch_size, 64);
  });
});

test("config file errors: unknown keys, JSON types, enum values, bad JSON, missing file", () => {
  withFile(JSON.stringify({ lerning_rate: 1 }), (path) =>
    assert.throws(() => parseConfig(DEFAULTS, { file: path, argv: [] }), {
      message: `unknown key "lerning_rate" in config file ${path}; did you mean "learning_rate"?`,
    }),
  );
  withFile(JSON.stringify({ batch_size: "64" }), (path) =>
    assert.throws(() => parseConfig(DEFAULTS, { ...SPEC, file: path, argv: [] }), /key "batch_size" in config file .* is "64" \(string\); expected an integer/),
  );
  withFile(JSON.stringify({ batch_size: 6.5 }), (path) =>
    assert.throws(() => parseConfig(DEFAULTS, { ...SPEC, file: path, argv: [] }), /is 6.5 \(number\); expected an integer/),
  );
  withFile(JSON.stringify({ compile: 1 }), (path) =>
    assert.throws(() => parseConfig(DEFAULTS, { file: path, argv: [] }), /is 1 \(number\); expected a boolean/),
  );
  withFile(JSON.stringify({ advantage_norm: "batch" }), (path) =>
    assert.throws(() => parseConfig(DEFAULTS, { ...SPEC, file: path, argv: [] }), /has value "batch"; expected one of global, group, none/),
  );
  withFile("{ batch_size: 1 }", (path) => assert.throws(() => parseConfig(DEFAULTS, { file: path, argv: [] }), /config file .* is not valid JSON/));
  withFile("[1, 2]", (path) =>
    assert.throws(() => parseConfig(DEFAULTS, { file: path, argv: [] }), /must hold a JSON object of key: value pairs; got an array/),
  );
  assert.throws(() => parseConfig(DEFAULTS, { argv: ["--config=/nonexistent/run.json"] }), /cannot read config file \/nonexistent\/run.json/);
});

test("--help is reported unless help is itself an option", () => {
  assert.equal(parseConfig(DEFAULTS, { argv: ["--help"] }).help, true);
  const r = parseConfig({ help: false }, { argv: ["--help"] });
  assert.equal(r.help, false);
  assert.equal(r.config.help, true);
});

test("bad defaults and declarations are refused", () => {
  assert.throws(() => parseConfig({ config: "x" }, { argv: [] }), /reserved for --config/);
  assert.throws(() => parseConfig({ a_b: 1, "a-b": 2 }, { argv: [] }), /collide/);
  assert.throws(() => parseConfig({ a: [1] as never }, { argv: [] }), /default a has type object; expected number, boolean or string/);
  assert.throws(() => parseConfig({ a: 1.5 }, { argv: [], integers: ["a"] }), /marked integer but is not an integer/);
  assert.throws(() => parseConfig({ a: "x" }, { argv: [], choices: { a: ["y"] } }), /not one of its choices y/);
  assert.throws(() => parseConfig({ a: 1 }, { argv: [], choices: { a: ["y"] } as never }), /whose default is not a string/);
  assert.throws(() => parseConfig({ a: 1 }, { argv: [], integers: ["b" as never] }), /not a key of the defaults/);
});

test("formatConfig prints aligned key = value lines and marks changes", () => {
  const r = parseConfig(DEFAULTS, { ...SPEC, argv: ["--batch_size=32", "--compile"] });
  assert.equal(
    formatConfig(r.config),
    ["batch_size     = 32", "learning_rate  = 0.00001", "compile        = true", 'out_dir        = "runs/grpo"', 'advantage_norm = "global"'].join("\n"),
  );
  assert.equal(formatConfig({ a: 1, bb: "x" }, { a: 2, bb: "x" }), 'a  = 1  # default: 2\nbb = "x"');
});

test("nearest suggests only plausible typos", () => {
  assert.equal(nearest("lerning_rate", ["learning_rate", "batch_size"]), "learning_rate");
  assert.equal(nearest("xyz", ["learning_rate", "batch_size"]), undefined);
});
