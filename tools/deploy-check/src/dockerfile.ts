// The Dockerfile as our checks read it, parsed by dockerfile-ast (instructions, continuations,
// comments, ENV/ARG properties): stages, their base chain, ENV/WORKDIR/ENTRYPOINT as a stage sees
// them, exec-form commands.
import { DockerfileParser, PropertyInstruction } from "dockerfile-ast";

interface Instruction {
  keyword: string;
  /** The arguments without flags, continuation lines joined (comment lines in them dropped). */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
  /** ENV and ARG name/value pairs (quotes removed; null for an ARG without a default). */
  properties: Array<[string, string | null]>;
}

export interface Stage {
  /** `AS name`, lower-cased as Docker does; undefined for an unnamed stage. */
  name?: string;
  index: number;
  /** The FROM image with global ARGs substituted. */
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

/** Splits a Dockerfile into stages of instructions. */
export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string | undefined> = {};
  const stages: Stage[] = [];
  for (const node of DockerfileParser.parse(text).getInstructions()) {
    const ins: Instruction = {
      keyword: node.getKeyword(),
      args: node
        .getArguments()
        .map((a) => a.getValue())
        .join(" "),
      line: node.getRange().start.line + 1,
      properties: node instanceof PropertyInstruction ? node.getProperties().map((p) => [p.getName(), p.getValue()]) : [],
    };
    if (ins.keyword === "FROM") {
      const words = ins.args.split(" ");
      if (words.length !== 1 && !(words.length === 3 && words[1]!.toUpperCase() === "AS")) {
        throw new DockerfileError(`line ${ins.line}: FROM ${ins.args}; expected FROM image [AS name]`);
      }
      stages.push({ name: words[2]?.toLowerCase(), index: stages.length, base: substitute(words[0]!, globalArgs), line: ins.line, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== "ARG") throw new DockerfileError(`line ${ins.line}: ${ins.keyword} before the first FROM; only ARG may come first`);
      for (const [name, value] of ins.properties) globalArgs[name] = value ?? undefined;
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** `${NAME}` and `$NAME` replaced from `vars`; unknown names are left as they are. */
function substitute(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a: string | undefined, b: string | undefined) => {
    const v = vars[(a ?? b)!];
    return v === undefined ? whole : v;
  });
}

export function stageByName(df: Dockerfile, name: string): Stage | undefined {
  return df.stages.find((s) => s.name === name.toLowerCase());
}

/** The stage itself, then its base stages up to the first one built FROM an image. */
function ancestry(df: Dockerfile, stage: Stage): Stage[] {
  const chain: Stage[] = [stage];
  for (let s = stageByName(df, stage.base); s && !chain.includes(s); s = stageByName(df, s.base)) chain.push(s);
  return chain;
}

/** The ARG values a stage sees: its own ARG lines, defaulting to the global ones. */
function stageArgs(df: Dockerfile, stage: Stage): Record<string, string | undefined> {
  const args: Record<string, string | undefined> = {};
  for (const ins of stage.instructions) if (ins.keyword === "ARG") for (const [name, value] of ins.properties) args[name] = value ?? df.globalArgs[name];
  return args;
}

/** ENV as seen at the end of the stage (inherited through its base stages; ARGs of the stage substituted). */
export function stageEnv(df: Dockerfile, stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of ancestry(df, stage).reverse()) {
    const args = stageArgs(df, s);
    for (const ins of s.instructions) if (ins.keyword === "ENV") for (const [k, v] of ins.properties) env[k] = substitute(v ?? "", { ...args, ...env });
  }
  return env;
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

/** HEALTHCHECK's command in exec form (its flags are apart already); undefined for NONE or shell form. */
export function healthcheckCommand(args: string): string[] | undefined {
  const m = /^CMD\s+(.*)$/is.exec(args.trim());
  return m ? execForm(m[1]!) : undefined;
}
