// The life of a service process, the same for every service: parse its settings table (flags,
// <PREFIX><KEY> environment, --config=FILE), start, print one start line, drain and exit 0 on
// SIGTERM/SIGINT. Exit 0 after --help (the table's usage), 2 for a bad setting (with the message), 1 when the
// service cannot start (with the reason). A service that says how it is secured gets tls=… admin=…
// on its start line, and a warning line when it is not fully secured. A service that finishes by
// itself (a training run) gives `done` and `stop`: the process exits with done's code, the first
// SIGTERM/SIGINT asks it to stop at a safe point, a second exits 130 at once.
import { ConfigError, parseSettings, usage, type Parsed, type Table, type Values } from "@grpomesh/config";
import { isAbsolute, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { securityFields, securityWarning, type Security } from "./security.ts";

/**
 * How to start the module at `moduleUrl` again, for --help and error hints: `node --import tsx
 * services/judge/src/main.ts` from sources, `node services/judge/src/main.js` compiled (the images),
 * the path relative to the working directory when it lies below it.
 */
export function commandLine(moduleUrl: string): string {
  const file = fileURLToPath(moduleUrl);
  const rel = relative(process.cwd(), file);
  const path = rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
  return file.endsWith(".ts") ? `node --import tsx ${path}` : `node ${path}`;
}

export interface ServiceProcess {
  /** Stops accepting calls and finishes the ones in flight, waiting at most `graceMs`. */
  shutdown(graceMs?: number): Promise<void>;
}

/** How the process was started, for a service that reads more than its values (the orchestrator's resume). */
export interface ServiceArgs {
  argv: readonly string[];
  env: Record<string, string | undefined>;
  /** The --config file, if one was given. */
  configFile?: string;
}

export interface ServiceMainOptions<T extends Table, S extends ServiceProcess> {
  /** Prefix of every line the process prints, e.g. "judge". */
  name: string;
  /** How the lines this function prints begin (default "<name>:"), for a service whose own lines read "[name] …". */
  prefix?: string;
  /** The service's settings table, its environment prefix, how --help names the command, and the relations between keys. */
  settings: T;
  envPrefix: string;
  command: string;
  check?(values: Values<T>): string[];
  start(config: Values<T>, args: ServiceArgs): Promise<S>;
  /** The start line's key=value fields: address, model, configuration. */
  startFields?(server: S): Array<[string, string | number]> | Promise<Array<[string, string | number]>>;
  /** Instead of `startFields`: the whole start line, for a service whose lines read otherwise (undefined: none, e.g. nothing to serve). */
  startLine?(server: S): string | undefined;
  /** A service that finishes by itself: the exit code it finishes with (a rejection exits 1 with the reason). */
  done?(server: S): Promise<number>;
  /** What the first SIGTERM/SIGINT does instead of draining: ask the service to stop at a safe point (`done` then gives the code); a second signal exits 130 at once. */
  stop?(server: S, signal: NodeJS.Signals): void;
  /** The credentials the server runs with: reported on the start line (and warned about when missing). */
  security?(server: S): Security;
  /** How long SIGTERM waits for in-flight calls. */
  graceMs: number;
  argv?: readonly string[];
  env?: Record<string, string | undefined>;
}

/** "judge: serving address=… model=…": one line a person or a log parser can read; values with spaces quoted. */
export function formatStartLine(name: string, fields: Array<[string, string | number]>): string {
  return `${name}: serving ${fields.map(([k, v]) => `${k}=${String(v).includes(" ") ? JSON.stringify(String(v)) : v}`).join(" ")}`;
}

/** Runs a service process to its end; returns the started server (the process exits on a signal). */
export async function runServiceMain<T extends Table, S extends ServiceProcess>(opts: ServiceMainOptions<T, S>): Promise<S> {
  const { name } = opts;
  const prefix = opts.prefix ?? `${name}:`;
  const argv = opts.argv ?? process.argv.slice(2);
  const env = opts.env ?? process.env;
  let parsed: Parsed<T>;
  try {
    parsed = parseSettings(opts.settings, { argv, env, envPrefix: opts.envPrefix, check: opts.check });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${prefix} ${err.message}\n(${opts.command} --help lists every setting)`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(usage(opts.settings, opts.command, opts.envPrefix));
    process.exit(0);
  }

  let server: S;
  try {
    server = await opts.start(parsed.config, { argv, env, configFile: parsed.configFile });
  } catch (err) {
    console.error(`${prefix} cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  const security = opts.security?.(server);
  const startLine = opts.startFields
    ? formatStartLine(name, [...(await opts.startFields(server)), ...(security ? securityFields(security) : [])])
    : opts.startLine?.(server);

  // Signals are handled before the start line is out: a supervisor may signal as soon as it sees it.
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (opts.stop) {
        if (stopping) process.exit(130);
        stopping = true;
        opts.stop(server, signal);
        return;
      }
      if (stopping) return;
      stopping = true;
      console.log(`${prefix} ${signal}, finishing in-flight requests (up to ${opts.graceMs / 1000} s) and shutting down`);
      server.shutdown(opts.graceMs).then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(`${prefix} shutdown failed: ${(err as Error).message}`);
          process.exit(1);
        },
      );
    });
  }
  if (startLine !== undefined) console.log(startLine);
  const warning = security && securityWarning(name, security);
  if (warning) console.error(warning);
  if (opts.done) {
    let code: number;
    try {
      code = await opts.done(server);
    } catch (err) {
      console.error(`${prefix} error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    }
    process.exit(code);
  }
  return server;
}
