// The manifests as the cluster receives them: every kustomization rendered by real kustomize
// (`kubectl kustomize`, kubectl ≥ 1.27 from PATH or the one tools/scripts/setup.mjs fetches), and
// the checks run on what it renders. Nothing here re-implements kustomize.
import { execFileSync } from "node:child_process";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findKubectl } from "./kubectl.mjs";

/** This checkout: its kubectl cache serves every bundle, also copies of deploy/ in temp folders. */
const TOOLS_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The overlays `kubectl apply -k deploy/k8s/overlays/<variant>` applies (deploy/README.md). */
export const OVERLAYS = ["cpu", "gpu", "gpu-judges"] as const;
export type Overlay = (typeof OVERLAYS)[number];

export class KustomizeError extends Error {
  override name = "KustomizeError";
}

let found: ReturnType<typeof findKubectl> | undefined;

/** The kubectl to render with, or why there is none (with the command that fetches one). */
export function kubectl(): { path: string; version: string } | { problem: string } {
  found ??= findKubectl(TOOLS_ROOT);
  return found;
}

/** `kubectl kustomize <dir>`: the rendered YAML stream. `dir` is repository-relative or absolute. */
export function renderKustomization(root: string, dir: string): string {
  const k = kubectl();
  if ("problem" in k) throw new KustomizeError(k.problem);
  try {
    return execFileSync(k.path, ["kustomize", isAbsolute(dir) ? dir : join(root, dir)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    throw new KustomizeError(`kubectl kustomize ${dir} failed: ${stderr || (err as Error).message}`);
  }
}
