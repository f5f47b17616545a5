// Model paths. With a model repository configured, every path (the start model and LoadModel's)
// resolves against it and must stay inside it, symlinks included: LoadModel is an admin RPC, but
// it must not become a way to read arbitrary files on the node. `scanRepository` lists the numbered
// versions the repository poller chooses from.
import { existsSync, realpathSync, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { invalidArgument } from "@grpomesh/rpc";

/** Checks that a configured repository exists and returns its real path. */
export function openRepository(root: string): string {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new Error(`model repository ${root} is not a directory; create it or fix --model-repository / JUDGE_MODEL_REPOSITORY`);
  }
  return realpathSync(root);
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * The absolute path of `requested`: relative to `repositoryRoot` when one is given (and refused
 * with INVALID_ARGUMENT when it leaves it), else relative to the working directory.
 */
export function resolveModelPath(requested: string, repositoryRoot: string | null): string {
  if (!requested) throw invalidArgument("path is empty; expected the path of an .onnx file" + (repositoryRoot ? ` inside the model repository ${repositoryRoot}` : ""));
  if (repositoryRoot === null) return resolve(requested);
  const path = resolve(repositoryRoot, requested);
  const outside = () =>
    invalidArgument(`path ${JSON.stringify(requested)} resolves to ${path}, outside the model repository ${repositoryRoot}; give a path inside the repository`);
  if (!inside(repositoryRoot, path)) throw outside();
  if (existsSync(path) && !inside(repositoryRoot, realpathSync(path))) throw outside();
  return path;
}

/** One `<name>/<version>/model.onnx` of a repository as it stands now. */
export interface RepositoryVersion {
  version: number;
  path: string;
  /** Size and modification time: a file whose signature holds across two polls is complete. */
  signature: string;
}

export interface RepositoryScan {
  /** The model folder followed, once known. */
  name: string | null;
  /** Highest version first. */
  versions: RepositoryVersion[];
  /** Why nothing can be chosen (several model folders, a missing one), else null. */
  problem: string | null;
}

const VERSION_DIR = /^[1-9]\d*$/;

async function subdirectories(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/**
 * The versions of one model in a Triton-style repository: `<root>/<name>/<n>/model.onnx` with `n` a
 * positive integer. `modelName` null follows the only folder that holds version folders. Files
 * that vanish mid-scan or are still empty are left out.
 */
export async function scanRepository(root: string, modelName: string | null): Promise<RepositoryScan> {
  let name = modelName;
  if (name === null) {
    const names: string[] = [];
    for (const dir of await subdirectories(root)) {
      if ((await subdirectories(join(root, dir))).some((v) => VERSION_DIR.test(v))) names.push(dir);
    }
    if (names.length > 1) {
      return { name: null, versions: [], problem: `model repository ${root} holds several models (${names.sort().join(", ")}); choose one with --model-name` };
    }
    name = names[0] ?? null;
    if (name === null) return { name: null, versions: [], problem: null };
  } else if (!existsSync(join(root, name))) {
    return { name, versions: [], problem: `model repository ${root} has no folder ${name} (--model-name); create ${join(root, name, "1", "model.onnx")}` };
  }
  const versions: RepositoryVersion[] = [];
  for (const dir of await subdirectories(join(root, name))) {
    if (!VERSION_DIR.test(dir)) continue;
    const path = join(root, name, dir, "model.onnx");
    try {
      const st = await stat(path, { bigint: true });
      if (st.isFile() && st.size > 0n) versions.push({ version: Number(dir), path, signature: `${st.size}:${st.mtimeNs}` });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  versions.sort((a, b) => b.version - a.version);
  return { name, versions, problem: null };
}
