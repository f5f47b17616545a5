// Checks on deploy/images: the Dockerfile's stages and the files it needs from the build context,
// what each service target runs and as whom, how dependencies are installed (tsx, onnxruntime's
// CUDA download, tfjs-node-gpu), and the link from Kubernetes containers to image targets.
import { existsSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join, posix } from "node:path";
import type { DeployBundle } from "./bundle.ts";
import { where } from "./bundle.ts";
import {
  ancestry,
  copies,
  execForm,
  healthcheckCommand,
  lastInstruction,
  parseDockerfile,
  rootImage,
  stageArgs,
  stageByName,
  stageEnv,
  substitute,
  dockerIgnore,
  type Dockerfile,
  type Stage,
} from "./dockerfile.ts";
import { containersOf, imageName, workloads } from "./k8s.ts";

/** Kubernetes images are named `<IMAGE_PREFIX><target>`, e.g. grpomesh/judge → target judge. */
export const IMAGE_PREFIX = "grpomesh/";

export type ServiceName = "judge" | "policy" | "reference" | "orchestrator";
export const SERVICES: readonly ServiceName[] = ["judge", "policy", "reference", "orchestrator"];

/** Default gRPC and metrics ports of each service, as its own config parser reports them. */
export type ServicePorts = Record<ServiceName, { grpc: number; metrics: number | null }>;

export interface ServiceTarget {
  stage: Stage;
  service: ServiceName;
  entrypoint: string[];
  gpu: boolean;
}

const CUDA_IMAGE = /(^|\/)nvidia\/cuda:/;
const MAIN_TS = /^services\/([a-z-]+)\/src\/main\.ts$/;

function workdir(df: Dockerfile, stage: Stage): string {
  return lastInstruction(df, stage, "WORKDIR")?.args ?? "/";
}

/** A path used inside the image (absolute, or relative to WORKDIR) as a repository path, when it lies under /app. */
function repoPath(df: Dockerfile, stage: Stage, p: string): string | undefined {
  const abs = p.startsWith("/") ? p : posix.join(workdir(df, stage), p);
  return abs.startsWith("/app/") ? abs.slice("/app/".length) : undefined;
}

/** Stages whose ENTRYPOINT runs a service's main.ts. */
export function serviceTargets(df: Dockerfile): ServiceTarget[] {
  const out: ServiceTarget[] = [];
  for (const stage of df.stages) {
    if (!stage.name || !stage.instructions.some((i) => i.keyword === "ENTRYPOINT")) continue;
    const entrypoint = execForm(lastInstruction(df, stage, "ENTRYPOINT")!.args) ?? [];
    const main = entrypoint.map((a) => repoPath(df, stage, a)).find((p) => p && MAIN_TS.test(p));
    const service = main ? (MAIN_TS.exec(main)![1] as ServiceName) : undefined;
    if (service && SERVICES.includes(service)) out.push({ stage, service, entrypoint, gpu: CUDA_IMAGE.test(rootImage(df, stage)) });
  }
  return out;
}

/** Every stage a target is built from: its base chain and, transitively, the stages it copies from. */
function contributingStages(df: Dockerfile, stage: Stage): Stage[] {
  const seen = new Set<Stage>();
  const visit = (s: Stage) => {
    for (const a of ancestry(df, s)) {
      if (seen.has(a)) continue;
      seen.add(a);
      for (const c of copies(a)) {
        const from = c.from ? stageByName(df, c.from) : undefined;
        if (from) visit(from);
      }
    }
  };
  visit(stage);
  return [...seen];
}

/** The shell commands of a stage's RUN instructions, split at && ; and |. */
const commandsOf = (s: Stage) => s.instructions.filter((i) => i.keyword === "RUN").flatMap((i) => i.args.split(/&&|;|\|\|?/).map((c) => c.trim()));
const runs = (s: Stage, re: RegExp) => commandsOf(s).some((c) => re.test(c));
/** A project install (npm ci / npm install), not a global tool install such as npm itself. */
const NPM_INSTALL = /^npm\s+(ci|install|i)\b(?!.*(\s--global\b|\s-g\b))/;

/** The Dockerfile on its own and against the repository: stages, context files, targets, installs. */
export function checkDockerfile(bundle: DeployBundle, ports: ServicePorts): string[] {
  const problems: string[] = [];
  const file = bundle.dockerfile.file;
  let df: Dockerfile;
  try {
    df = parseDockerfile(bundle.dockerfile.text);
  } catch (err) {
    return [`${file}: ${(err as Error).message}`];
  }
  const ignore = dockerIgnore(bundle.dockerignore.text);
  const inContext = (path: string, why: string) => {
    if (!existsSync(join(bundle.root, path))) problems.push(`${file}: ${why} ${path}, which does not exist in the repository`);
    else if (ignore.ignores(path)) problems.push(`${file}: ${why} ${path}, but ${bundle.dockerignore.file} leaves it out of the build context`);
  };

  // Stages: unique names; bases are earlier stages or images with every ARG substituted.
  const names = new Set<string>();
  for (const s of df.stages) {
    if (s.name && names.has(s.name)) problems.push(`${file}:${s.line}: stage name ${s.name} is used twice`);
    if (s.name) names.add(s.name);
    if (/\$/.test(s.base)) problems.push(`${file}:${s.line}: FROM ${s.base} uses an ARG without a default declared before the first FROM`);
    for (const c of copies(s)) {
      if (c.from) {
        const from = stageByName(df, c.from);
        if (!from && !/[:/]/.test(c.from)) problems.push(`${file}:${c.line}: COPY --from=${c.from} names no stage`);
        if (from && from.index >= s.index) problems.push(`${file}:${c.line}: COPY --from=${c.from} names a later stage`);
        continue;
      }
      for (const src of c.sources) {
        if (src === "." || src === "./") continue;
        inContext(src.replace(/^\.\//, ""), `line ${c.line} copies`);
      }
    }
  }

  // The manifests stage copies the whole context and keeps these: they must be in it.
  for (const f of ["package.json", "package-lock.json", ".npmrc"]) inContext(f, "the install needs");
  for (const ws of workspacePackageJsons(bundle)) inContext(ws, "the install needs workspace manifest");

  // Files the images run (ENTRYPOINT, CMD, HEALTHCHECK) exist and are in the context.
  for (const s of df.stages) {
    for (const ins of s.instructions) {
      const cmd =
        ins.keyword === "HEALTHCHECK" ? healthcheckCommand(ins.args) : ins.keyword === "ENTRYPOINT" || ins.keyword === "CMD" ? execForm(ins.args) : undefined;
      if ((ins.keyword === "ENTRYPOINT" || ins.keyword === "CMD") && !cmd)
        problems.push(`${file}:${ins.line}: ${ins.keyword} is in shell form; use exec form (["node", …]) so the service gets SIGTERM`);
      for (const arg of cmd ?? []) {
        if (!/\.(ts|mjs|cjs|js|json)$/.test(arg) || arg.startsWith("-")) continue;
        const p = repoPath(df, s, arg);
        if (p) inContext(p, `line ${ins.line} runs`);
      }
    }
  }

  const targets = serviceTargets(df);
  for (const svc of SERVICES) if (!targets.some((t) => t.service === svc)) problems.push(`${file}: no target runs services/${svc}/src/main.ts`);
  const tsxIsDev = Boolean(bundle.packageJson.devDependencies?.tsx) && !bundle.packageJson.dependencies?.tsx;
  for (const t of targets) {
    const at = `${file}: target ${t.stage.name}`;
    const user = lastInstruction(df, t.stage, "USER")?.args.split(":")[0];
    if (!user || user === "root" || user === "0") problems.push(`${at} runs as ${user ?? "root (no USER)"}; expected a non-root USER`);
    else if (!/^\d+$/.test(user)) problems.push(`${at}: USER ${user} is a name; use a numeric uid so Kubernetes can verify runAsNonRoot`);
    if (!(t.entrypoint[0] === "node" && t.entrypoint.includes("--import") && t.entrypoint[t.entrypoint.indexOf("--import") + 1] === "tsx")) {
      problems.push(`${at}: ENTRYPOINT ${JSON.stringify(t.entrypoint)}; expected ["node", "--import", "tsx", "services/${t.service}/src/main.ts"]`);
    }
    const exposed = t.stage.instructions
      .filter((i) => i.keyword === "EXPOSE")
      .flatMap((i) => i.args.split(/\s+/))
      .map((p) => Number(p.split("/")[0]));
    const want = [ports[t.service].grpc, ports[t.service].metrics].filter((p): p is number => p !== null);
    for (const p of want)
      if (!exposed.includes(p)) problems.push(`${at}: EXPOSE ${exposed.join(" ") || "(none)"} lacks ${p}, a default port of services/${t.service}`);
    const hc = lastInstruction(df, t.stage, "HEALTHCHECK");
    const hcCmd = hc ? healthcheckCommand(hc.args) : undefined;
    const hcTarget = hcCmd?.find((a) => /^[\w.[\]:-]+:\d+$/.test(a));
    if (hcTarget && Number(hcTarget.split(":").at(-1)) !== ports[t.service].grpc) {
      problems.push(`${at}: HEALTHCHECK checks ${hcTarget}; services/${t.service} serves gRPC on ${ports[t.service].grpc}`);
    }
    const env = stageEnv(df, t.stage);
    const cudaJudge = t.gpu && t.service === "judge";
    if (!t.gpu && env.ONNXRUNTIME_NODE_INSTALL !== "skip")
      problems.push(`${at}: ENV ONNXRUNTIME_NODE_INSTALL is ${env.ONNXRUNTIME_NODE_INSTALL ?? "unset"}; CPU images need skip`);
    const installers = contributingStages(df, t.stage).filter((s) => runs(s, NPM_INSTALL));
    if (installers.length === 0) problems.push(`${at}: no stage it is built from installs dependencies (npm ci)`);
    for (const s of installers) {
      const senv = stageEnv(df, s);
      const want = cudaJudge ? "cuda12" : "skip";
      if (senv.ONNXRUNTIME_NODE_INSTALL !== want) {
        problems.push(
          `${file}: stage ${s.name} installs dependencies for target ${t.stage.name} with ONNXRUNTIME_NODE_INSTALL=${senv.ONNXRUNTIME_NODE_INSTALL ?? "(unset)"}; expected ${want}${cudaJudge ? " (the CUDA execution provider)" : " (the CPU binary ships in the package; without skip the install script downloads CUDA libraries)"}`,
        );
      }
      if (tsxIsDev) {
        if (senv.NODE_ENV === "production")
          problems.push(
            `${file}: stage ${s.name} runs npm with NODE_ENV=production, which leaves out devDependencies, tsx among them; the services run with node --import tsx`,
          );
        if (runs(s, /--omit[= ]dev|--production|--only[= ]prod/))
          problems.push(`${file}: stage ${s.name} installs without devDependencies, but tsx (which runs every service) is a devDependency in package.json`);
      }
    }
  }

  // tfjs-node-gpu must share the lockfile's tfjs-core, or its backend registers with another copy.
  const core = bundle.packageLock.packages["node_modules/@tensorflow/tfjs-core"]?.version;
  for (const s of df.stages) {
    for (const ins of s.instructions) {
      const m = /@tensorflow\/tfjs-node(?:-gpu)?@(\S+)/.exec(ins.keyword === "RUN" ? ins.args : "");
      if (!m) continue;
      const version = substitute(m[1]!, stageArgs(df, s));
      if (version !== core)
        problems.push(`${file}:${ins.line}: installs tfjs-node ${version}; the lockfile's @tensorflow/tfjs-core is ${core}, and they must match`);
    }
  }

  // The Node.js image satisfies package.json's engines.
  const nodeImage = df.globalArgs.NODE_IMAGE ?? df.stages[0]?.base ?? "";
  const major = Number(/^node:(\d+)/.exec(nodeImage)?.[1]);
  const needed = Number(/>=\s*(\d+)/.exec(bundle.packageJson.engines?.node ?? "")?.[1] ?? 0);
  if (!(major >= needed))
    problems.push(`${file}: NODE_IMAGE ${nodeImage} is Node ${major || "?"}; package.json needs node ${bundle.packageJson.engines?.node}`);
  return problems;
}

/** Every shell-form RUN parses as /bin/sh (the images' shell) would parse it: `sh -n`, nothing executed. */
export function checkRunSyntax(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  const df = parseDockerfile(bundle.dockerfile.text);
  for (const s of df.stages) {
    for (const ins of s.instructions) {
      if (ins.keyword !== "RUN" || execForm(ins.args)) continue;
      const r = spawnSync("sh", ["-n", "-c", ins.args], { encoding: "utf8" });
      if (r.error) return [`cannot run sh to check RUN syntax: ${r.error.message}`];
      if (r.status !== 0) problems.push(`${bundle.dockerfile.file}:${ins.line}: RUN is not valid sh: ${r.stderr.trim()}`);
    }
  }
  return problems;
}

/** Every workspace's package.json (from package.json "workspaces" globs of the form dir/*). */
export function workspacePackageJsons(bundle: DeployBundle): string[] {
  const out: string[] = [];
  for (const ws of bundle.packageJson.workspaces ?? []) {
    const dir = ws.replace(/\/\*$/, "");
    const abs = join(bundle.root, dir);
    if (!existsSync(abs)) continue;
    for (const name of readdirSync(abs).sort()) if (existsSync(join(abs, name, "package.json"))) out.push(`${dir}/${name}/package.json`);
  }
  return out;
}

/** The Dockerfile target a container's image names (grpomesh/<target>), if it is one. */
export function targetOfImage(df: Dockerfile, image: string | undefined): Stage | undefined {
  const name = imageName(image ?? "");
  return name.startsWith(IMAGE_PREFIX) ? stageByName(df, name.slice(IMAGE_PREFIX.length)) : undefined;
}

/** Containers use image targets that exist; user ids agree; GPU images get GPUs and GPU nodes. */
export function checkImagesInManifests(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  const df = parseDockerfile(bundle.dockerfile.text);
  const targets = serviceTargets(df);
  for (const w of workloads(bundle)) {
    for (const c of containersOf(w.pod)) {
      const at = `${where(w.m)} container ${c.name}`;
      const stage = targetOfImage(df, c.image);
      if (!stage) {
        problems.push(
          `${at}: image ${c.image} is not ${IMAGE_PREFIX}<target> for a target of ${bundle.dockerfile.file} (targets: ${targets.map((t) => t.stage.name).join(", ")})`,
        );
        continue;
      }
      const uid = lastInstruction(df, stage, "USER")?.args.split(":")[0];
      const runAs = c.securityContext?.runAsUser ?? w.pod.spec?.securityContext?.runAsUser;
      if (runAs !== undefined && uid !== undefined && /^\d+$/.test(uid) && runAs !== Number(uid)) {
        problems.push(`${at}: runs as uid ${runAs}, but image target ${stage.name} is built for USER ${uid}`);
      }
      const target = targets.find((t) => t.stage === stage);
      if (!target) continue;
      const gpus = c.resources?.limits?.["nvidia.com/gpu"];
      if (target.gpu) {
        if (!(Number(gpus) >= 1) || String(c.resources?.requests?.["nvidia.com/gpu"]) !== String(gpus)) {
          problems.push(
            `${at}: image target ${stage.name} is a CUDA image but the container requests ${c.resources?.requests?.["nvidia.com/gpu"] ?? "no"} and limits ${gpus ?? "no"} nvidia.com/gpu; set both to 1`,
          );
        }
        if (Object.keys(w.pod.spec?.nodeSelector ?? {}).length === 0) problems.push(`${at}: a GPU workload without a nodeSelector for GPU nodes`);
        if (!(w.pod.spec?.tolerations ?? []).some((t) => t.key === "nvidia.com/gpu"))
          problems.push(`${at}: a GPU workload without a toleration for the nvidia.com/gpu taint`);
      } else if (gpus !== undefined) {
        problems.push(
          `${at}: image target ${stage.name} is a CPU image but the container asks for nvidia.com/gpu ${gpus}; use the GPU target or drop the request`,
        );
      }
    }
  }
  return problems;
}
