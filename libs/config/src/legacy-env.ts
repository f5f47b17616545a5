// Services take their flags from the command line and, for containers, from `<PREFIX><KEY>`
// environment variables (POLICY_MAX_BATCH for --max-batch): defaults, then the environment, then
// the flags. An error names the variable or the flag at fault.
import { formatConfig, parseConfig, type ConfigShape, type ParseOptions, type ParsedConfig } from "./legacy.ts";

/** A bad flag, variable or value: the process should print the usage and exit 2. */
import { ConfigError } from "./index.ts";

export interface EnvParseOptions<T extends ConfigShape> extends Omit<ParseOptions<T>, "argv"> {
  argv: readonly string[];
  env: Record<string, string | undefined>;
  /** e.g. "POLICY_": key max_batch reads POLICY_MAX_BATCH. */
  envPrefix: string;
}

import { envVariable } from "./index.ts";

/**
 * parseConfig with environment variables between the defaults and the flags (a flag wins).
 * Throws ConfigError: for a variable, "environment variable POLICY_MAX_BATCH: …".
 */
export function parseConfigWithEnv<T extends ConfigShape>(defaults: T, options: EnvParseOptions<T>): ParsedConfig<T> {
  const { env, envPrefix, argv, ...rest } = options;
  const fromEnv = Object.keys(defaults)
    .filter((k) => env[envVariable(envPrefix, k)] !== undefined)
    .map((k) => ({ key: k, arg: `--${k}=${env[envVariable(envPrefix, k)]}` }));
  const parse = (args: readonly string[]) => parseConfig(defaults, { ...rest, argv: args });
  // Each variable alone first, so an error names the variable rather than a flag nobody typed.
  for (const { key, arg } of fromEnv) {
    try {
      parse([arg]);
    } catch (err) {
      throw new ConfigError(`environment variable ${envVariable(envPrefix, key)}: ${(err as Error).message}`);
    }
  }
  try {
    return parse([...fromEnv.map((e) => e.arg), ...argv]);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** `--help` text: a usage line, then every flag with its default and its environment variable. */
export function envUsage(defaults: ConfigShape, envPrefix: string, command: string): string {
  const lines = formatConfig(defaults)
    .split("\n")
    .map((l) => {
      const key = l.split(" ")[0]!;
      return `  --${key.replace(/_/g, "-")}  ${l.slice(key.length).trim().replace(/^= /, "default ")}  [env ${envVariable(envPrefix, key)}]`;
    });
  return [`usage: ${command} [--flag=value …]`, ...lines].join("\n");
}

/** A port flag: "off" → null (disabled), else an integer in [0, 65535] (0 picks a free port). */
export function parsePortOrOff(raw: string, flag: string): number | null {
  if (raw === "off") return null;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new ConfigError(`${flag} is ${JSON.stringify(raw)}; expected a port in [0, 65535] (0 picks a free one) or "off"`);
  return n;
}

/** An integer flag that must be at least 1 (parseConfig has already checked it is an integer). */
export function atLeastOne(value: number, flag: string): number {
  if (!(value >= 1)) throw new ConfigError(`${flag} is ${value}; expected an integer ≥ 1`);
  return value;
}
