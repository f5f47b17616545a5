// deploy/images against the services and the manifests: a Dockerfile target runs each service's
// main.ts, exposes and health-checks the service's own ports, and every image a manifest names is
// one of those targets (how the image is built is docker's to check). The Dockerfile is parsed by
// dockerfile-ast: stages, their base chain, ENV/WORKDIR/ENTRYPOINT as a stage sees them.
import { existsSync } from "node:fs";
import { Copy, DockerfileParser, PropertyInstruction } from "dockerfile-ast";
import { join, posix } from "node:path";
import { where, type DeployBundle } from "./bundle.ts";
import { containersOf, imageName, workloads } from "./k8s.ts";

interface Instruction {
  keyword: string;
  /** The arguments without flags, continuation lines joined (comment lines in them dropped). */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
  /** ENV and ARG name/value pairs (quotes removed; null for an ARG without a default). */
  properties: Array<[string, string | null]>;
  /** COPY --from=STAGE (lower-cased as Docker does). */
  from?: string;
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
      from: node instanceof Copy ? (node.getFromFlag()?.getValue() ?? undefined)?.toLowerCase() : undefined,
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

/** ENV as seen at the end of the stage, or just before `before` (inherited through its base stages; ARGs of the stage substituted). */
export function stageEnv(df: Dockerfile, stage: Stage, before?: Instruction): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of ancestry(df, stage).reverse()) {
    const args = stageArgs(df, s);
    for (const ins of s.instructions) {
      if (ins === before) break;
      if (ins.keyword === "ENV") for (const [k, v] of ins.properties) env[k] = substitute(v ?? "", { ...args, ...env });
    }
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

/** Kubernetes images are named `<IMAGE_PREFIX><target>`, e.g. grpomesh/judge → target judge. */
const IMAGE_PREFIX = "grpomesh/";

export type ServiceName = "judge" | "policy" | "reference" | "orchestrator";
export const SERVICES: readonly ServiceName[] = ["judge", "policy", "reference", "orchestrator"];

/** Default gRPC and metrics ports of each service, as its own settings table gives them. */
export type ServicePorts = Record<ServiceName, { grpc: number; metrics: number | null }>;

/** A service's entry point: the compiled main.js in the images (its source, main.ts, in the repository). */
const MAIN_JS = /^services\/([a-z-]+)\/src\/main\.js$/;

/** The repository file an image path comes from: compiled `.js` files from their `.ts` source. */
function sourceOf(root: string, p: string): string {
  return p.endsWith(".js") && !existsSync(join(root, p)) ? p.replace(/\.js$/, ".ts") : p;
}

/** A path used inside the image (absolute, or relative to WORKDIR) as a repository path, when it lies under /app. */
function repoPath(df: Dockerfile, stage: Stage, p: string): string | undefined {
  const abs = p.startsWith("/") ? p : posix.join(lastInstruction(df, stage, "WORKDIR")?.args ?? "/", p);
  return abs.startsWith("/app/") ? abs.slice("/app/".length) : undefined;
}

/** Stages whose ENTRYPOINT runs a service's compiled main.js. */
export function serviceTargets(df: Dockerfile): Array<{ stage: Stage; service: ServiceName }> {
  const out: Array<{ stage: Stage; service: ServiceName }> = [];
  for (const stage of df.stages) {
    if (!stage.name || !stage.instructions.some((i) => i.keyword === "ENTRYPOINT")) continue;
    const entrypoint = execForm(lastInstruction(df, stage, "ENTRYPOINT")!.args) ?? [];
    const main = entrypoint.map((a) => repoPath(df, stage, a)).find((p) => p && MAIN_JS.test(p));
    const service = main ? (MAIN_JS.exec(main)![1] as ServiceName) : undefined;
    if (service && SERVICES.includes(service)) out.push({ stage, service });
  }
  return out;
}

/** A target for every service; the files the images run exist; EXPOSE and HEALTHCHECK use the services' own ports. */
export function checkDockerfile(bundle: DeployBundle, ports: ServicePorts): string[] {
  const problems: string[] = [];
  const file = bundle.dockerfile.file;
  let df: Dockerfile;
  try {
    df = parseDockerfile(bundle.dockerfile.text);
  } catch (err) {
    return [`${file}: ${(err as Error).message}`];
  }
  for (const s of df.stages) {
    for (const ins of s.instructions) {
      const cmd =
        ins.keyword === "HEALTHCHECK" ? healthcheckCommand(ins.args) : ins.keyword === "ENTRYPOINT" || ins.keyword === "CMD" ? execForm(ins.args) : undefined;
      for (const arg of cmd ?? []) {
        const p = /\.(ts|mjs|cjs|js|json)$/.test(arg) && !arg.startsWith("-") ? repoPath(df, s, arg) : undefined;
        if (p && !existsSync(join(bundle.root, sourceOf(bundle.root, p))))
          problems.push(`${file}:${ins.line}: runs ${p}, which neither exists in the repository nor is compiled from a .ts file there`);
      }
    }
  }
  // How the dependencies are installed (docker runs whatever it is told; these are ours): onnxruntime's
  // download skipped (the CPU binary ships in the package) or the CUDA provider asked for, and
  // tfjs-node on the lockfile's tfjs-core.
  const core = bundle.lockedVersions["@tensorflow/tfjs-core"];
  for (const s of df.stages) {
    for (const ins of s.instructions.filter((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args))) {
      const env = stageEnv(df, s, ins);
      const run = substitute(ins.args, { ...df.globalArgs, ...stageArgs(df, s) });
      if (env.ONNXRUNTIME_NODE_INSTALL !== "skip" && env.ONNXRUNTIME_NODE_INSTALL !== "cuda12")
        problems.push(
          `${file}:${ins.line}: npm ci with ONNXRUNTIME_NODE_INSTALL=${env.ONNXRUNTIME_NODE_INSTALL ?? "(unset)"}; expected skip, or cuda12 for the CUDA judge (judge-cuda)`,
        );
      const tf = /@tensorflow\/tfjs-node(?:-gpu)?@(\S+)/.exec(run)?.[1];
      if (tf && tf !== core)
        problems.push(`${file}:${ins.line}: installs tfjs-node ${tf}; the lockfile's @tensorflow/tfjs-core is ${core}, and they must match`);
    }
  }
  problems.push(...checkProductionOnly(df, file));
  // A parser directive at the top (`# syntax=…`) makes BuildKit pull a frontend image: air-gapped builds fail.
  const directive = /^(?:#\s*[a-z]+\s*=.*\n)*?#\s*syntax\s*=\s*(\S+)/i.exec(bundle.dockerfile.text);
  if (directive) problems.push(`${file}:1: # syntax=${directive[1]} makes BuildKit pull a frontend image from a registry; the builds must work offline`);
  problems.push(...checkGpuTargets(df, file));
  const targets = serviceTargets(df);
  for (const svc of SERVICES) if (!targets.some((t) => t.service === svc)) problems.push(`${file}: no target runs services/${svc}/src/main.js`);
  for (const t of targets) {
    const at = `${file}: target ${t.stage.name}`;
    const { grpc, metrics } = ports[t.service];
    const exposed = t.stage.instructions
      .filter((i) => i.keyword === "EXPOSE")
      .flatMap((i) => i.args.split(/\s+/))
      .map((p) => Number(p.split("/")[0]));
    for (const p of [grpc, metrics])
      if (p !== null && !exposed.includes(p))
        problems.push(`${at}: EXPOSE ${exposed.join(" ") || "(none)"} lacks ${p}, a default port of services/${t.service}`);
    const hc = lastInstruction(df, t.stage, "HEALTHCHECK");
    const hcTarget = (hc ? healthcheckCommand(hc.args) : undefined)?.find((a) => /^[\w.[\]:-]+:\d+$/.test(a));
    if (hcTarget && Number(hcTarget.split(":").at(-1)) !== grpc)
      problems.push(`${at}: HEALTHCHECK checks ${hcTarget}; services/${t.service} serves gRPC on ${grpc}`);
  }
  return problems;
}

/**
 * What the service targets run: compiled JavaScript with plain node (no tsx, no --import of a
 * loader), and production dependencies only: every `COPY --from=STAGE SRC` along a target's chain
 * that copies the folder where STAGE ran `npm ci` must come from an install with --omit=dev.
 */
export function checkProductionOnly(df: Dockerfile, file: string): string[] {
  const problems: string[] = [];
  for (const t of serviceTargets(df)) {
    const at = `${file}: target ${t.stage.name}`;
    const entrypoint = execForm(lastInstruction(df, t.stage, "ENTRYPOINT")!.args) ?? [];
    if (entrypoint.some((a) => a === "tsx" || a === "--import" || a.startsWith("--import=") || a.startsWith("--loader")))
      problems.push(`${at}: ENTRYPOINT ${entrypoint.join(" ")} loads a TypeScript loader; the images run compiled JavaScript (tools/scripts/compile.mjs)`);
    for (const s of ancestry(df, t.stage)) {
      for (const ins of s.instructions.filter((i) => i.keyword === "COPY")) {
        const source = ins.from ? stageByName(df, ins.from) : undefined;
        if (!source) continue;
        const src = ins.args.split(" ")[0]!.replace(/\/$/, "");
        for (const install of source.instructions.filter((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args))) {
          const workdir = (lastWorkdirBefore(source, install) ?? "/").replace(/\/$/, "");
          if (workdir === src && !/--omit[= ]dev/.test(install.args))
            problems.push(
              `${at}: copies ${src} from stage ${source.name}, whose npm ci (line ${install.line}) keeps the devDependencies; runtime images hold production dependencies only (--omit=dev)`,
            );
        }
      }
    }
  }
  return problems;
}

function lastWorkdirBefore(stage: Stage, before: Instruction): string | undefined {
  let dir: string | undefined;
  for (const i of stage.instructions) {
    if (i === before) break;
    if (i.keyword === "WORKDIR") dir = i.args;
  }
  return dir;
}

/** The targets that run on GPU nodes too (onnxruntime's WebGPU provider, which ships in its npm package). */
export const GPU_TARGETS = ["judge", "policy", "reference"] as const;

/**
 * The GPU-capable targets build from Debian and npm alone and reach the GPU through Vulkan: no CUDA
 * base image (a registry beyond Debian's, and CUDA they do not use), onnxruntime's download skipped,
 * Debian's Vulkan loader installed, and the NVIDIA toolkit's graphics capability asked for (it mounts
 * the driver's Vulkan ICD). The manifests choose the WebGPU provider by flag on GPU nodes.
 */
export function checkGpuTargets(df: Dockerfile, file: string): string[] {
  const problems: string[] = [];
  for (const name of GPU_TARGETS) {
    const stage = stageByName(df, name);
    if (!stage) {
      problems.push(`${file}: no target ${name}`);
      continue;
    }
    const at = `${file}: target ${name}`;
    const chain = ancestry(df, stage);
    const root = chain.at(-1)!.base;
    if (/nvidia\/cuda|nvcr\.io|cuda/i.test(root))
      problems.push(`${at} starts FROM ${root}, a CUDA image: the GPU targets need only Debian and npm (WebGPU ships in onnxruntime-node)`);
    const runs = chain.flatMap((s) => s.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args));
    if (!runs.some((r) => /apt-get install\b[^&;]*\blibvulkan1\b/.test(r)))
      problems.push(`${at} does not install Debian's Vulkan loader (apt-get install libvulkan1)`);
    if (runs.some((r) => /\bcurl\b|\bwget\b/.test(r))) problems.push(`${at} downloads with curl or wget: the GPU targets need only Debian and npm`);
    const env = stageEnv(df, stage);
    if (env.ONNXRUNTIME_NODE_INSTALL !== "skip")
      problems.push(`${at}: ONNXRUNTIME_NODE_INSTALL is ${env.ONNXRUNTIME_NODE_INSTALL ?? "(unset)"}; expected skip (no CUDA download)`);
    if (
      !(env.NVIDIA_DRIVER_CAPABILITIES ?? "")
        .split(",")
        .map((c) => c.trim())
        .some((c) => c === "graphics" || c === "all")
    ) {
      problems.push(
        `${at}: NVIDIA_DRIVER_CAPABILITIES is ${env.NVIDIA_DRIVER_CAPABILITIES ?? "(unset)"}; expected graphics among them (the NVIDIA toolkit mounts the driver's Vulkan ICD only then)`,
      );
    }
  }
  return problems;
}

/** The Dockerfile target a container's image names (grpomesh/<target>), if it is one. */
export function targetOfImage(df: Dockerfile, image: string | undefined): Stage | undefined {
  const name = imageName(image ?? "");
  return name.startsWith(IMAGE_PREFIX) ? stageByName(df, name.slice(IMAGE_PREFIX.length)) : undefined;
}

/** Every image a container names is a target of deploy/images/Dockerfile. */
export function checkImagesInManifests(bundle: DeployBundle): string[] {
  const df = parseDockerfile(bundle.dockerfile.text);
  const names = df.stages.map((s) => s.name).filter(Boolean);
  return workloads(bundle).flatMap((w) =>
    containersOf(w.pod)
      .filter((c) => !targetOfImage(df, c.image))
      .map(
        (c) =>
          `${where(w.m)} container ${c.name}: image ${c.image} is not ${IMAGE_PREFIX}<target> for a target of ${bundle.dockerfile.file} (targets: ${names.join(", ")})`,
      ),
  );
}
