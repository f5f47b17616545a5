// A Dockerfile reader and a .dockerignore matcher, enough to check our images without a Docker
// engine: stages, their base chain, ENV/ARG/USER/WORKDIR as a stage sees them, exec-form commands.

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  /** `AS name`, lower-cased as Docker does; undefined for an unnamed stage. */
  name?: string;
  index: number;
  /** The FROM argument with global ARGs substituted. */
  base: string;
  line: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string | undefined>;
  stages: Stage[];
}

export class DockerfileError extends Error {
  override name = "DockerfileError";
}

/** Splits a Dockerfile into instructions (comments dropped, `\` continuations joined) and stages. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let current: { text: string; line: number } | null = null;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#")) return; // comments (and parser directives) never continue a line
    if (current === null && trimmed === "") return;
    const continues = /\\\s*$/.test(raw);
    const piece = continues ? raw.replace(/\\\s*$/, "") : raw;
    if (current === null) current = { text: piece.trim(), line: i + 1 };
    else current.text += " " + piece.trim();
    if (!continues) {
      const m = /^(\S+)\s*(.*)$/s.exec(current.text);
      if (m) instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: current.line });
      current = null;
    }
  });
  if (current !== null) throw new DockerfileError(`the last instruction (line ${(current as { line: number }).line}) ends with a line continuation`);

  const globalArgs: Record<string, string | undefined> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith("--platform="));
      if (words.length !== 1 && !(words.length === 3 && words[1]!.toUpperCase() === "AS")) {
        throw new DockerfileError(`line ${ins.line}: FROM ${ins.args}; expected FROM image [AS name]`);
      }
      stages.push({ name: words[2]?.toLowerCase(), index: stages.length, base: substitute(words[0]!, globalArgs), line: ins.line, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== "ARG") throw new DockerfileError(`line ${ins.line}: ${ins.keyword} before the first FROM; only ARG may come first`);
      const [name, value] = splitAssignment(ins.args);
      globalArgs[name] = value;
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

function splitAssignment(text: string): [string, string | undefined] {
  const eq = text.indexOf("=");
  return eq < 0 ? [text.trim(), undefined] : [text.slice(0, eq).trim(), unquote(text.slice(eq + 1).trim())];
}

function unquote(s: string): string {
  return /^".*"$/.test(s) || /^'.*'$/.test(s) ? s.slice(1, -1) : s;
}

/** `${NAME}` and `$NAME` replaced from `vars`; unknown names are left as they are. */
export function substitute(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a: string | undefined, b: string | undefined) => {
    const v = vars[(a ?? b)!];
    return v === undefined ? whole : v;
  });
}

export function stageByName(df: Dockerfile, name: string): Stage | undefined {
  return df.stages.find((s) => s.name === name.toLowerCase());
}

/** The stage itself, then its base stages up to the first one built FROM an image. */
export function ancestry(df: Dockerfile, stage: Stage): Stage[] {
  const chain: Stage[] = [stage];
  for (let s = stageByName(df, stage.base); s && !chain.includes(s); s = stageByName(df, s.base)) chain.push(s);
  return chain;
}

/** The image the stage's chain starts from, e.g. "node:20.20.2-bookworm-slim". */
export function rootImage(df: Dockerfile, stage: Stage): string {
  return ancestry(df, stage).at(-1)!.base;
}

/** ENV as seen at the end of the stage (inherited through its base stages; ARGs of the stage substituted). */
export function stageEnv(df: Dockerfile, stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of ancestry(df, stage).reverse()) {
    const args: Record<string, string | undefined> = {};
    for (const ins of s.instructions) {
      if (ins.keyword === "ARG") {
        const [name, value] = splitAssignment(ins.args);
        args[name] = value ?? df.globalArgs[name];
      } else if (ins.keyword === "ENV") {
        for (const [k, v] of parseEnvArgs(ins.args)) env[k] = substitute(v, { ...args, ...env });
      }
    }
  }
  return env;
}

/** The ENV pairs of one instruction: `A=1 B="two words"` or the legacy `A value with spaces`. */
export function parseEnvArgs(args: string): Array<[string, string]> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const m = /^(\S+)\s+(.*)$/s.exec(args);
    return m ? [[m[1]!, m[2]!]] : [];
  }
  const out: Array<[string, string]> = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (let m = re.exec(args); m; m = re.exec(args)) out.push([m[1]!, unquote(m[2]!)]);
  return out;
}

/** The ARG values a stage sees: its own ARG lines, defaulting to the global ones. */
export function stageArgs(df: Dockerfile, stage: Stage): Record<string, string | undefined> {
  const args: Record<string, string | undefined> = {};
  for (const ins of stage.instructions) {
    if (ins.keyword !== "ARG") continue;
    const [name, value] = splitAssignment(ins.args);
    args[name] = value ?? df.globalArgs[name];
  }
  return args;
}

/** The last value of a single-valued instruction (USER, WORKDIR, ENTRYPOINT, CMD, HEALTHCHECK) along the chain. */
export function lastInstruction(df: Dockerfile, stage: Stage, keyword: string): Instruction | undefined {
  for (const s of ancestry(df, stage)) {
    const found = s.instructions.filter((i) => i.keyword === keyword).at(-1);
    if (found) return found;
  }
  return undefined;
}

/** JSON exec form `["a", "b"]`; undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trim().startsWith("[")) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** HEALTHCHECK's command in exec form (options such as --interval dropped); undefined for NONE or shell form. */
export function healthcheckCommand(args: string): string[] | undefined {
  const m = /^((?:--\S+\s+)*)CMD\s+(.*)$/is.exec(args.trim());
  return m ? execForm(m[2]!) : undefined;
}

export interface CopyInstruction {
  from?: string;
  sources: string[];
  dest: string;
  line: number;
}

/** COPY/ADD of a stage with their --from and paths (exec or shell form). */
export function copies(stage: Stage): CopyInstruction[] {
  const out: CopyInstruction[] = [];
  for (const ins of stage.instructions) {
    if (ins.keyword !== "COPY" && ins.keyword !== "ADD") continue;
    const words = ins.args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith("--"));
    const rest = words.filter((w) => !w.startsWith("--"));
    const paths = execForm(rest.join(" ")) ?? rest;
    const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
    out.push({ from, sources: paths.slice(0, -1), dest: paths.at(-1) ?? "", line: ins.line });
  }
  return out;
}

// ---------------------------------------------------------------- .dockerignore

interface IgnoreRule {
  pattern: string;
  exclude: boolean;
  regex: RegExp;
}

/** A .dockerignore as BuildKit reads it: last matching rule wins; a matched folder excludes its contents. */
export class DockerIgnore {
  readonly rules: IgnoreRule[];

  constructor(text: string) {
    this.rules = [];
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const exclude = !line.startsWith("!");
      if (!exclude) line = line.slice(1).trim();
      line = line.replace(/^\/+/, "").replace(/\/+$/, "").replace(/^\.\//, "");
      if (!line) continue;
      this.rules.push({ pattern: line, exclude, regex: globToRegExp(line) });
    }
  }

  /** True when a context-relative path (e.g. "services/judge/src/main.ts") is left out of the build context. */
  ignores(path: string): boolean {
    const clean = path.replace(/^\.\//, "").replace(/\/+$/, "");
    const parts = clean.split("/");
    let ignored = false;
    for (const rule of this.rules) {
      // The path or any of its parent folders.
      for (let n = 1; n <= parts.length; n++) {
        if (rule.regex.test(parts.slice(0, n).join("/"))) {
          ignored = rule.exclude;
          break;
        }
      }
    }
    return ignored;
  }
}

function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      i++;
      if (pattern[i + 1] === "/") {
        i++;
        re += "(?:.*/)?";
      } else {
        re += ".*";
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i);
      if (end < 0) re += "\\[";
      else {
        re +=
          "[" +
          pattern
            .slice(i + 1, end)
            .replace(/^!/, "^")
            .replace(/\\/g, "\\\\") +
          "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
