// One settings schema for every service and tool. A table maps each key (snake_case: what users
// write in config files, on the command line and, upper-cased, in environment variables) to a zod
// type (its kind and allowed range or values), a default and a one-line description. From the
// table come parsing (defaults, then <PREFIX><KEY> environment variables, then a JSON config file,
// then --key=value flags; a later one wins), all per-key validation, `--help` and
// docs/configuration.md. Unknown keys are refused with the nearest known key, so a typo never
// silently trains with the default. Keys are spelled with underscores; dashes are accepted as an alias.
import { readFileSync } from "node:fs";
import { z } from "zod";

export { z };

export type ConfigValue = number | boolean | string;

export interface Setting<T extends ConfigValue = ConfigValue> {
  readonly type: z.ZodType<T>;
  readonly default: T;
  /** One line: what the setting does (and what 0 or "" means, when it means something). */
  readonly doc: string;
}

export type Table = Readonly<Record<string, Setting>>;
/** The parsed values of a table: each key with its setting's type. */
export type Values<T extends Table> = { -readonly [K in keyof T]: T[K]["default"] };

/** A setting; the default is checked against the type when the table is first used. */
export function setting<T extends ConfigValue>(type: z.ZodType<T>, def: NoInfer<T>, doc: string): Setting<T> {
  return { type, default: def, doc };
}

/** A port, or "off" to turn the listener off; 0 picks a free port. The one way to disable /metrics. */
export const PORT_OR_OFF = z.union([z.literal("off"), z.int().min(0).max(65535)]);

/** "off" → null, else the port. */
export const portOrNull = (v: "off" | number): number | null => (v === "off" ? null : v);

/** A bad flag, variable, file key or value: the process should print the message and exit 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

// ---------------------------------------------------------------------------------------------
// What a setting accepts, read from its zod type's JSON Schema.

type Json = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Json[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
};

const jsonCache = new WeakMap<z.ZodType, Json>();
function jsonOf(type: z.ZodType): Json {
  let j = jsonCache.get(type);
  if (!j) jsonCache.set(type, (j = z.toJSONSchema(type, { unrepresentable: "any" }) as Json));
  return j;
}

const SAFE = Number.MAX_SAFE_INTEGER;
function rangeText(j: Json): string {
  const lo = j.exclusiveMinimum ?? j.minimum;
  const hi = j.exclusiveMaximum ?? (j.maximum !== undefined && Math.abs(j.maximum) < SAFE ? j.maximum : undefined);
  const hasLo = lo !== undefined && Math.abs(lo) < SAFE;
  if (hasLo && hi !== undefined) return ` in ${j.exclusiveMinimum !== undefined ? "(" : "["}${lo}, ${hi}${j.exclusiveMaximum !== undefined ? ")" : "]"}`;
  if (hasLo) return ` ${j.exclusiveMinimum !== undefined ? ">" : "≥"} ${lo}`;
  if (hi !== undefined) return ` ${j.exclusiveMaximum !== undefined ? "<" : "≤"} ${hi}`;
  return "";
}

function describeJson(j: Json): string {
  if (j.anyOf) return j.anyOf.map(describeJson).join(" or ");
  if (j.const !== undefined) return JSON.stringify(j.const);
  if (j.enum) return `one of ${j.enum.map((v) => (v === "" ? `"" (empty)` : String(v))).join(", ")}`;
  switch (j.type) {
    case "integer":
      return `an integer${rangeText(j)}`;
    case "number":
      return `a number${rangeText(j)}`;
    case "boolean":
      return "true or false";
    case "string":
      return j.minLength ? "a non-empty string" : "a string";
  }
  return "a value";
}

/** What the setting accepts, in words: "an integer ≥ 2", "one of sum, mean", "\"off\" or an integer in [0, 65535]". */
export const allowedValues = (s: Setting): string => describeJson(jsonOf(s.type));

/** The JSON types a setting's value may have (a union may take several). */
function kinds(j: Json): Set<string> {
  if (j.anyOf) return new Set(j.anyOf.flatMap((b) => [...kinds(b)]));
  if (j.const !== undefined || j.enum) return new Set(["string"]);
  return new Set([j.type === "integer" ? "number" : (j.type ?? "string")]);
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A command-line or environment string as the setting's value: a number, a boolean, or the string itself. */
function fromString(s: Setting, raw: string): unknown {
  const k = kinds(jsonOf(s.type));
  if (k.has("number") && NUMBER.test(raw) && Number.isFinite(Number(raw)) && !(k.has("string") && s.type.safeParse(raw).success)) return Number(raw);
  if (k.has("boolean") && !k.has("string")) {
    const v = raw.toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
  }
  return raw;
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
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** The value checked against the setting's type, or a ConfigError naming where it came from and what is allowed. */
function checked(s: Setting, value: unknown, shown: string): ConfigValue {
  const r = s.type.safeParse(value);
  if (r.success) return r.data;
  const custom = r.error.issues.find((i) => i.code === "custom");
  const j = jsonOf(s.type);
  const guess = j.enum && typeof value === "string" ? nearest(value, j.enum.map(String)) : undefined;
  const got = typeof value === "string" ? JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value) : JSON.stringify(value);
  throw new ConfigError(`${shown} is ${got}; expected ${custom ? custom.message : allowedValues(s)}${guess ? ` (did you mean ${guess}?)` : ""}`);
}

const normalize = (key: string): string => key.replace(/-/g, "_");

/** The variable that sets `key`: prefix + the key in upper case ("max_batch" → "POLICY_MAX_BATCH"). */
export const envVariable = (prefix: string, key: string): string => prefix + normalize(key).toUpperCase();

function unknownKey(table: Table, shown: string, norm: string, format: (key: string) => string, where = ""): ConfigError {
  const guess = nearest(norm, Object.keys(table));
  const keys = Object.keys(table);
  const hint = guess ? `did you mean ${format(guess)}?` : keys.length ? `known keys: ${keys.map(format).join(", ")}` : "this command takes none";
  return new ConfigError(`unknown ${shown}${where}; ${hint}`);
}

const checkedTables = new WeakSet<Table>();
/** Each default is a value of its own type, and no two keys collide once dashes are underscores. */
function checkTable(table: Table): void {
  if (checkedTables.has(table)) return;
  for (const [key, s] of Object.entries(table)) {
    if (key !== normalize(key) || key === "config" || key === "help") throw new Error(`setting key "${key}": keys are snake_case and not "config"/"help"`);
    if (!s.type.safeParse(s.default).success) throw new Error(`setting ${key}: default ${JSON.stringify(s.default)} is not ${allowedValues(s)}`);
  }
  checkedTables.add(table);
}

export interface ParseOptions<T extends Table> {
  /** Command-line arguments (default process.argv.slice(2)). */
  argv?: readonly string[];
  /** Environment (default: none); with envPrefix, <PREFIX><KEY> sets a key between the defaults and the file. */
  env?: Readonly<Record<string, string | undefined>>;
  envPrefix?: string;
  /** JSON config file read before the flags; `--config=path.json` in argv replaces it. */
  file?: string;
  /** Most positional arguments accepted (default: none). */
  maxPositional?: number;
  /** Relations between values that a per-key type cannot see; each string is one problem. */
  check?: (values: Values<T>) => string[];
}

export interface Parsed<T extends Table> {
  config: Values<T>;
  /** Arguments that are not options, in order (everything after a bare `--` included). */
  positional: string[];
  /** The JSON file that was read, if any. */
  configFile?: string;
  /** Keys whose value differs from the default. */
  changed: (keyof T & string)[];
  /** Where each key that was given got its value (the last one wins): its environment variable, the config file or a flag. */
  sources: Partial<Record<keyof T & string, "environment" | "file" | "flag">>;
  /** `--help` was given: print usage() and exit 0. */
  help: boolean;
}

/** The defaults of a table, as values. */
export function defaults<T extends Table>(table: T): Values<T> {
  checkTable(table);
  return Object.fromEntries(Object.entries(table).map(([k, s]) => [k, s.default])) as Values<T>;
}

/**
 * Resolves a table's values: defaults, environment, the JSON file (`--config=path.json`, else
 * `options.file`), then `--key=value` / `--key value` / `--flag` / `--no-flag` in order. `--` ends
 * the options. Every error is a ConfigError naming the flag, variable or file key at fault.
 */
export function parseSettings<T extends Table>(table: T, options: ParseOptions<T> = {}): Parsed<T> {
  checkTable(table);
  const argv = options.argv ?? process.argv.slice(2);
  const config = defaults(table) as Record<string, ConfigValue>;
  const positional: string[] = [];
  const flags: Array<{ key: string; value: unknown; shown: string }> = [];
  let configFile = options.file;
  let help = false;
  const sources: Record<string, "environment" | "file" | "flag"> = {};

  for (const [key, s] of Object.entries(table)) {
    const name = options.envPrefix !== undefined ? envVariable(options.envPrefix, key) : undefined;
    const raw = name !== undefined ? options.env?.[name] : undefined;
    if (raw !== undefined) [config[key], sources[key]] = [checked(s, fromString(s, raw), `environment variable ${name}`), "environment"];
  }

  for (let n = 0; n < argv.length; n++) {
    const arg = argv[n]!;
    if (arg === "--") {
      positional.push(...argv.slice(n + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      if (/^-[A-Za-z]/.test(arg) && arg !== "-h") throw new ConfigError(`single-dash option ${arg} is not supported; write options as --key=value`);
      if (arg === "-h") help = true;
      else if (arg.indexOf("=") > 0 && normalize(arg.slice(0, arg.indexOf("="))) in table)
        throw new ConfigError(`argument ${arg} looks like an option without its dashes; write --${arg}`);
      else positional.push(arg);
      continue;
    }
    const body = arg.slice(2);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    let raw: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    const key = normalize(name);
    const takeNext = (): string => {
      const next = argv[n + 1];
      if (next === undefined || next.startsWith("--")) throw new ConfigError(`option --${name} needs a value: --${name}=VALUE`);
      n++;
      return next;
    };
    if (key === "config") {
      configFile = raw ?? takeNext();
      if (configFile === "") throw new ConfigError("--config needs a path to a JSON file: --config=path.json");
      continue;
    }
    if (key === "help" && raw === undefined) {
      help = true;
      continue;
    }
    const s = table[key];
    if (!s && key.startsWith("no_") && raw === undefined && table[key.slice(3)]?.default === false) {
      flags.push({ key: key.slice(3), value: false, shown: `option --${name}` });
      continue;
    }
    if (!s) throw unknownKey(table, `option --${name}`, key, (k) => `--${k}`);
    if (typeof s.default === "boolean" && raw === undefined) {
      flags.push({ key, value: true, shown: `option --${name}` }); // a bare flag never swallows the next argument
      continue;
    }
    raw ??= takeNext();
    flags.push({ key, value: fromString(s, raw), shown: `option --${name}` });
  }

  const most = options.maxPositional ?? 0;
  if (positional.length > most) {
    throw new ConfigError(
      `got ${positional.length} positional argument(s) (${positional.map((p) => JSON.stringify(p)).join(" ")}); ` +
        `expected ${most === 0 ? "none" : `at most ${most}`} — options are written --key=value`,
    );
  }

  if (configFile !== undefined) {
    for (const [k, value] of Object.entries(readConfigFile(configFile))) {
      const key = normalize(k);
      if (!table[key]) throw unknownKey(table, `key ${JSON.stringify(k)}`, key, (x) => JSON.stringify(x), ` in config file ${configFile}`);
      [config[key], sources[key]] = [checked(table[key], value, `key ${JSON.stringify(k)} in config file ${configFile}`), "file"];
    }
  }
  for (const f of flags) [config[f.key], sources[f.key]] = [checked(table[f.key]!, f.value, f.shown), "flag"];

  const values = config as Values<T>;
  const problems = options.check?.(values) ?? [];
  if (problems.length) throw new ConfigError(problems.length === 1 ? problems[0]! : `invalid settings:\n  ${problems.join("\n  ")}`);
  const changed = Object.keys(table).filter((k) => config[k] !== table[k]!.default) as (keyof T & string)[];
  return { config: values, positional, configFile, changed, sources: sources as Parsed<T>["sources"], help };
}

/** Checks values built in code (not parsed) against the table: every key's type, then the relations. Throws ConfigError. */
export function checkValues<T extends Table>(table: T, values: Values<T>, check?: (values: Values<T>) => string[]): void {
  const problems: string[] = [];
  for (const [key, s] of Object.entries(table)) {
    try {
      checked(s, (values as Record<string, unknown>)[key], key);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  problems.push(...(check?.(values) ?? []));
  if (problems.length) throw new ConfigError(problems.length === 1 ? problems[0]! : `invalid settings:\n  ${problems.join("\n  ")}`);
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(
      `config file ${path} must hold a JSON object of key: value pairs; got ${Array.isArray(parsed) ? "an array" : JSON.stringify(parsed)}`,
    );
  }
  return parsed as Record<string, unknown>;
}

const show = (v: ConfigValue) => (typeof v === "string" ? JSON.stringify(v) : String(v));

/** `--help`: a usage line, then every key with what it accepts, its default, its variable and its description. */
export function usage(table: Table, command: string, envPrefix?: string, intro = ""): string {
  return [`usage: ${command} [--key=value …] [--config=FILE.json]`, ...(intro ? [intro] : []), "", settingsHelp(table, envPrefix), "", DASHES_NOTE].join("\n");
}

export const DASHES_NOTE = "Keys may be written with dashes (--max-batch) as well as underscores (--max_batch).";

/** The body of usage(): each key with what it accepts, its default and variable, then its description. */
export function settingsHelp(table: Table, envPrefix?: string): string {
  checkTable(table);
  return Object.entries(table)
    .map(
      ([key, s]) =>
        `  --${key}  (${allowedValues(s)}; default ${show(s.default)})${envPrefix !== undefined ? `  [env ${envVariable(envPrefix, key)}]` : ""}\n      ${s.doc}`,
    )
    .join("\n");
}

/** One Markdown table of settings: key, accepted values, default, environment variable, description. */
export function markdownTable(table: Table, envPrefix?: string): string {
  checkTable(table);
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const rows = Object.entries(table).map(
    ([key, s]) =>
      `| \`${key}\` | ${cell(allowedValues(s))} | \`${cell(show(s.default))}\` | ${envPrefix !== undefined ? `\`${envVariable(envPrefix, key)}\`` : "—"} | ${cell(s.doc)} |`,
  );
  return ["| key | accepts | default | environment | description |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}

/**
 * The resolved config as aligned `key = value` lines (strings quoted). With `defaults`, values that
 * differ from them are marked `# default: …`.
 */
export function formatConfig(config: Readonly<Record<string, ConfigValue>>, defaults?: Readonly<Record<string, ConfigValue>>): string {
  const keys = Object.keys(config);
  const width = Math.max(0, ...keys.map((k) => k.length));
  return keys
    .map((k) => {
      const line = `${k.padEnd(width)} = ${show(config[k]!)}`;
      return defaults && k in defaults && defaults[k] !== config[k] ? `${line}  # default: ${show(defaults[k]!)}` : line;
    })
    .join("\n");
}

/**
 * A tool's command line, the same for every tool: parseSettings, then `--help` prints usage() and
 * exits 0, and a ConfigError prints the message (and where the settings are listed) and exits 2.
 */
export function parseCommandLine<T extends Table>(table: T, command: string, options: ParseOptions<T> & { intro?: string } = {}): Parsed<T> {
  let parsed: Parsed<T>;
  try {
    parsed = parseSettings(table, { env: process.env, ...options });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${err.message}\n(${command} --help lists every setting)`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(usage(table, command, options.envPrefix, options.intro));
    process.exit(0);
  }
  return parsed;
}
