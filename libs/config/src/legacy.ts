// TEMPORARY: the pre-schema parser, kept only while services and tools move to parseSettings; deleted when none imports it.
// nanoGPT-style configuration: typed defaults, then a JSON config file, then --key=value
// overrides, each checked against the defaults' types. Unknown keys are refused with the nearest
// known key, so a typo never silently trains with the default.

import { readFileSync } from "node:fs";

export type ConfigValue = number | boolean | string;
export type ConfigShape = { [key: string]: ConfigValue };

export interface ParseOptions<T extends ConfigShape> {
  /** Command-line arguments (default process.argv.slice(2)). */
  argv?: readonly string[];
  /** JSON config file read before the argv overrides; `--config=path.json` in argv replaces it. */
  file?: string;
  /** Allowed values of string options (enums). */
  choices?: { readonly [K in keyof T]?: readonly string[] };
  /** Number options that accept only integers. */
  integers?: readonly (keyof T & string)[];
  /** Most positional arguments accepted (default: any number). */
  maxPositional?: number;
}

export interface ParsedConfig<T extends ConfigShape> {
  config: T;
  /** Arguments that are not options, in order (everything after a bare `--` included). */
  positional: string[];
  /** The JSON file that was read, if any. */
  configFile?: string;
  /** Keys whose value differs from the default. */
  changed: (keyof T & string)[];
  /** `--help` was given (and "help" is not a key of the defaults): print formatConfig(defaults) and exit. */
  help: boolean;
}

const normalize = (key: string): string => key.replace(/-/g, "_");

type Kind = "number" | "integer" | "boolean" | "string" | "enum";

interface KeySpec {
  key: string;
  kind: Kind;
  choices?: readonly string[];
}

function describe(spec: KeySpec): string {
  switch (spec.kind) {
    case "integer":
      return "an integer";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean (true/false)";
    case "string":
      return "a string";
    case "enum":
      return `one of ${spec.choices!.join(", ")}`;
  }
}

/** Checks the defaults and declarations once, and indexes keys by their normalized spelling. */
function buildSpecs<T extends ConfigShape>(defaults: T, options: ParseOptions<T>): Map<string, KeySpec> {
  const specs = new Map<string, KeySpec>();
  const integers = new Set<string>(options.integers ?? []);
  const choices = (options.choices ?? {}) as Record<string, readonly string[] | undefined>;
  for (const [key, value] of Object.entries(defaults)) {
    const norm = normalize(key);
    if (norm === "config") throw new Error(`default key "${key}" is reserved for --config=path.json; rename it`);
    if (specs.has(norm)) throw new Error(`default keys "${specs.get(norm)!.key}" and "${key}" collide (dashes and underscores are equivalent); rename one`);
    let spec: KeySpec;
    if (typeof value === "boolean") spec = { key, kind: "boolean" };
    else if (typeof value === "number") {
      if (Number.isNaN(value)) throw new Error(`default ${key} is NaN; expected a number`);
      spec = { key, kind: integers.has(key) ? "integer" : "number" };
      if (spec.kind === "integer" && !Number.isSafeInteger(value)) throw new Error(`default ${key} = ${value} is marked integer but is not an integer`);
    } else if (typeof value === "string") {
      const allowed = choices[key];
      spec = allowed ? { key, kind: "enum", choices: allowed } : { key, kind: "string" };
      if (allowed && !allowed.includes(value)) throw new Error(`default ${key} = ${JSON.stringify(value)} is not one of its choices ${allowed.join(", ")}`);
    } else {
      throw new Error(`default ${key} has type ${value === null ? "null" : typeof value}; expected number, boolean or string`);
    }
    specs.set(norm, spec);
  }
  for (const key of integers) {
    if (!(key in defaults)) throw new Error(`integers lists "${key}", which is not a key of the defaults`);
    if (typeof defaults[key] !== "number") throw new Error(`integers lists "${key}", whose default is not a number`);
  }
  for (const key of Object.keys(choices)) {
    if (!(key in defaults)) throw new Error(`choices lists "${key}", which is not a key of the defaults`);
    if (typeof defaults[key] !== "string") throw new Error(`choices lists "${key}", whose default is not a string`);
  }
  return specs;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function unknownKey(what: "option" | "key", shown: string, norm: string, specs: Map<string, KeySpec>, format: (key: string) => string, where = ""): Error {
  const guess = nearest(norm, specs.keys());
  const hint = guess ? `did you mean ${format(specs.get(guess)!.key)}?` : `known ${what}s: ${[...specs.values()].map((s) => format(s.key)).join(", ")}`;
  return new Error(`unknown ${what} ${shown}${where}; ${hint}`);
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a command-line string into the key's type. */
function fromString(spec: KeySpec, raw: string, shown: string): ConfigValue {
  const bad = () => new Error(`${shown} has value ${JSON.stringify(raw)}; expected ${describe(spec)}`);
  switch (spec.kind) {
    case "boolean": {
      const v = raw.toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      throw bad();
    }
    case "number":
    case "integer": {
      const n = Number(raw);
      if (!NUMBER.test(raw) || !Number.isFinite(n)) throw bad();
      if (spec.kind === "integer" && !Number.isSafeInteger(n)) throw bad();
      return n;
    }
    case "enum":
      if (!spec.choices!.includes(raw)) {
        const guess = nearest(raw, spec.choices!);
        throw new Error(`${shown} has value ${JSON.stringify(raw)}; expected ${describe(spec)}${guess ? ` (did you mean ${guess}?)` : ""}`);
      }
      return raw;
    case "string":
      return raw;
  }
}

/** Checks a value read from a JSON file against the key's type (no string-to-number coercion). */
function fromJson(spec: KeySpec, value: unknown, shown: string): ConfigValue {
  const got = `${JSON.stringify(value)} (${value === null ? "null" : Array.isArray(value) ? "array" : typeof value})`;
  const bad = () => new Error(`${shown} is ${got}; expected ${describe(spec)}`);
  switch (spec.kind) {
    case "boolean":
      if (typeof value !== "boolean") throw bad();
      return value;
    case "number":
      if (typeof value !== "number") throw bad();
      return value;
    case "integer":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw bad();
      return value;
    case "string":
      if (typeof value !== "string") throw bad();
      return value;
    case "enum":
      if (typeof value !== "string") throw bad();
      return fromString(spec, value, shown);
  }
}

/**
 * Resolves a configuration: `defaults`, then the JSON file (`--config=path.json`, else
 * `options.file`), then `--key=value` / `--key value` / `--flag` / `--no-flag` overrides in order
 * (a later one wins). Dashes and underscores in keys are equivalent. `--` ends the options.
 */
export function parseConfig<T extends ConfigShape>(defaults: T, options: ParseOptions<T> = {}): ParsedConfig<T> {
  const specs = buildSpecs(defaults, options);
  const argv = options.argv ?? process.argv.slice(2);
  const overrides: Array<{ spec: KeySpec; value: ConfigValue }> = [];
  const positional: string[] = [];
  let configFile = options.file;
  let help = false;

  for (let n = 0; n < argv.length; n++) {
    const arg = argv[n]!;
    if (arg === "--") {
      positional.push(...argv.slice(n + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      if (/^-[A-Za-z]/.test(arg)) throw new Error(`single-dash option ${arg} is not supported; write options as --key=value`);
      const eq = arg.indexOf("=");
      if (eq > 0 && specs.has(normalize(arg.slice(0, eq)))) {
        throw new Error(`argument ${arg} looks like an option without its dashes; write --${arg}`);
      }
      positional.push(arg);
      continue;
    }
    const body = arg.slice(2);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    let raw: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    const norm = normalize(name);
    const takeNext = (): string => {
      const next = argv[n + 1];
      if (next === undefined || next.startsWith("--")) throw new Error(`option --${name} needs a value: --${name}=VALUE`);
      n++;
      return next;
    };

    if (norm === "config") {
      configFile = raw ?? takeNext();
      if (configFile === "") throw new Error("--config needs a path to a JSON file: --config=path.json");
      continue;
    }
    if (norm === "help" && !specs.has("help") && raw === undefined) {
      help = true;
      continue;
    }
    let spec = specs.get(norm);
    if (!spec && norm.startsWith("no_") && raw === undefined && specs.get(norm.slice(3))?.kind === "boolean") {
      overrides.push({ spec: specs.get(norm.slice(3))!, value: false });
      continue;
    }
    if (!spec) throw unknownKey("option", `--${name}`, norm, specs, (k) => `--${k}`);
    if (spec.kind === "boolean" && raw === undefined) {
      overrides.push({ spec, value: true }); // a bare flag never swallows the next argument
      continue;
    }
    raw ??= takeNext();
    overrides.push({ spec, value: fromString(spec, raw, `option --${name}`) });
  }

  if (options.maxPositional !== undefined && positional.length > options.maxPositional) {
    throw new Error(
      `got ${positional.length} positional argument(s) (${positional.map((p) => JSON.stringify(p)).join(" ")}); ` +
        `expected at most ${options.maxPositional} — options are written --key=value`,
    );
  }

  const config: ConfigShape = { ...defaults };
  if (configFile !== undefined) {
    for (const [key, value] of Object.entries(readConfigFile(configFile))) {
      const spec = specs.get(normalize(key));
      if (!spec) throw unknownKey("key", JSON.stringify(key), normalize(key), specs, (k) => JSON.stringify(k), ` in config file ${configFile}`);
      config[spec.key] = fromJson(spec, value, `key ${JSON.stringify(key)} in config file ${configFile}`);
    }
  }
  for (const { spec, value } of overrides) config[spec.key] = value;

  const changed = Object.keys(defaults).filter((k) => config[k] !== defaults[k]) as (keyof T & string)[];
  return { config: config as T, positional, configFile, changed, help };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`config file ${path} must hold a JSON object of key: value pairs; got ${Array.isArray(parsed) ? "an array" : JSON.stringify(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * The resolved config as aligned `key = value` lines (strings quoted). With `defaults`, values that
 * differ from them are marked `# default: …`.
 */
export function formatConfig(config: ConfigShape, defaults?: ConfigShape): string {
  const keys = Object.keys(config);
  const width = Math.max(0, ...keys.map((k) => k.length));
  const show = (v: ConfigValue) => (typeof v === "string" ? JSON.stringify(v) : String(v));
  return keys
    .map((k) => {
      const line = `${k.padEnd(width)} = ${show(config[k]!)}`;
      return defaults && k in defaults && defaults[k] !== config[k] ? `${line}  # default: ${show(defaults[k]!)}` : line;
    })
    .join("\n");
}

export { parseConfigWithEnv, envUsage, parsePortOrOff, atLeastOne, type EnvParseOptions } from "./legacy-env.ts";
