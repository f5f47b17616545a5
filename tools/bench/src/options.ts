// `--key=value` flags for benches: typed by their defaults, unknown keys refused.

export type FlagValue = string | number | boolean;

/**
 * Parses argv against `defaults`: numbers must parse as numbers, booleans accept --flag or
 * --flag=true/false; an unknown flag throws naming the known ones. `--help` throws the usage.
 */
export function parseFlags<T extends Record<string, FlagValue>>(argv: readonly string[], defaults: T, help: Partial<Record<keyof T, string>> = {}): T {
  const out: Record<string, FlagValue> = { ...defaults };
  const usage = () =>
    Object.entries(defaults)
      .map(([k, v]) => `  --${k}=${JSON.stringify(v)}${help[k as keyof T] ? `  ${help[k as keyof T]}` : ""}`)
      .join("\n");
  for (const arg of argv) {
    if (arg === "--help") throw new Error(`flags:\n${usage()}`);
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new Error(`argument ${JSON.stringify(arg)} is not of the form --flag=value; flags:\n${usage()}`);
    const [, key, raw] = m as unknown as [string, string, string | undefined];
    if (!(key in defaults)) throw new Error(`unknown flag --${key}; flags:\n${usage()}`);
    const def = defaults[key];
    if (typeof def === "boolean") {
      if (raw !== undefined && raw !== "true" && raw !== "false") throw new Error(`--${key}=${raw}; expected true or false`);
      out[key] = raw !== "false";
    } else if (raw === undefined) {
      throw new Error(`--${key} needs a value, e.g. --${key}=${JSON.stringify(def)}`);
    } else if (typeof def === "number") {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) throw new Error(`--${key}=${raw}; expected a number`);
      out[key] = n;
    } else {
      out[key] = raw;
    }
  }
  return out as T;
}

/** "1,4,8" → [1, 4, 8]; each a positive integer. */
export function intList(flag: string, raw: string | number): number[] {
  const parts = String(raw)
    .split(",")
    .map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.some((p) => p === "") || values.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new Error(`--${flag}=${raw}; expected positive integers separated by commas, e.g. 1,4`);
  }
  return values;
}

/** Throws naming the first of `keys` whose value is not a positive integer. */
export function requirePositiveIntegers<T extends Record<string, FlagValue>>(flags: T, keys: ReadonlyArray<keyof T & string>): void {
  for (const key of keys) {
    const v = flags[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new Error(`--${key}=${v}; expected a positive integer`);
  }
}
