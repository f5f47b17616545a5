// deploy/images against the services and the manifests: a Dockerfile target runs each service's
// main.ts, exposes and health-checks the service's own ports, and every image a manifest names is
// one of those targets. (How the image is built is docker's to check.)
import { existsSync } from "node:fs";
import { join, posix } from "node:path";
import { where, type DeployBundle } from "./bundle.ts";
import { execForm, healthcheckCommand, lastInstruction, parseDockerfile, stageByName, type Dockerfile, type Stage } from "./dockerfile.ts";
import { containersOf, imageName, workloads } from "./k8s.ts";

/** Kubernetes images are named `<IMAGE_PREFIX><target>`, e.g. grpomesh/judge → target judge. */
const IMAGE_PREFIX = "grpomesh/";

export type ServiceName = "judge" | "policy" | "reference" | "orchestrator";
export const SERVICES: readonly ServiceName[] = ["judge", "policy", "reference", "orchestrator"];

/** Default gRPC and metrics ports of each service, as its own settings table gives them. */
export type ServicePorts = Record<ServiceName, { grpc: number; metrics: number | null }>;

const MAIN_TS = /^services\/([a-z-]+)\/src\/main\.ts$/;

/** A path used inside the image (absolute, or relative to WORKDIR) as a repository path, when it lies under /app. */
function repoPath(df: Dockerfile, stage: Stage, p: string): string | undefined {
  const abs = p.startsWith("/") ? p : posix.join(lastInstruction(df, stage, "WORKDIR")?.args ?? "/", p);
  return abs.startsWith("/app/") ? abs.slice("/app/".length) : undefined;
}

/** Stages whose ENTRYPOINT runs a service's main.ts. */
export function serviceTargets(df: Dockerfile): Array<{ stage: Stage; service: ServiceName }> {
  const out: Array<{ stage: Stage; service: ServiceName }> = [];
  for (const stage of df.stages) {
    if (!stage.name || !stage.instructions.some((i) => i.keyword === "ENTRYPOINT")) continue;
    const entrypoint = execForm(lastInstruction(df, stage, "ENTRYPOINT")!.args) ?? [];
    const main = entrypoint.map((a) => repoPath(df, stage, a)).find((p) => p && MAIN_TS.test(p));
    const service = main ? (MAIN_TS.exec(main)![1] as ServiceName) : undefined;
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
        if (p && !existsSync(join(bundle.root, p))) problems.push(`${file}:${ins.line}: runs ${p}, which does not exist in the repository`);
      }
    }
  }
  const targets = serviceTargets(df);
  for (const svc of SERVICES) if (!targets.some((t) => t.service === svc)) problems.push(`${file}: no target runs services/${svc}/src/main.ts`);
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
