// Model paths. Every path the judge loads — the start model, LoadModel's, the poller's — resolves
// against its model repository and must stay inside it, symlinks included: LoadModel is an admin
// RPC, but it must not become a way to read arbitrary files on the node. There is always a
// repository: --model_repository, else the folder of --model, else ./models. `scanRepository`
// lists the numbered versions the repository poller chooses from.
import { existsSync, realpathSync, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { confinePath, permissionDenied, RpcError, Status } from "@grpomesh/rpc";

/** Where LoadModel paths are confined when neither --model_repository nor --model is given. */
export const DEFAULT_MODEL_REPOSITORY = "models";

export interface ModelRoot {
  /** Real path of the repository (it may not exist yet when it is the default). */
  root: string;
  /** Where it came from, for messages and the start line. */
  source: "--model_repository" | "the folder of --model" | "default ./models";
  /** Absolute path of the start model (--model), or null. */
  startModel: string | null;
}

/** Checks that a configured repository exists and returns its real path. */
export function openRepository(root: string): string {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new Error(`model repository ${root} is not a directory; create it or fix --model_repository / JUDGE_MODEL_REPOSITORY`);
  }
  return realpathSync(root);
}

const realIfExists = (path: string) => (existsSync(path) ? realpathSync(path) : path);

/**
 * The judge's model repository: --model_repository (which must exist; --model resolves against
 * it), else the folder the --model file really lies in (symlinks resolved), else ./models. Empty: not given.
 */
export function modelRoot(config: { model_repository: string; model: string }): ModelRoot {
  if (config.model_repository) {
    const root = openRepository(config.model_repository);
    return { root, source: "--model_repository", startModel: config.model ? resolve(root, config.model) : null };
  }
  if (config.model) {
    const model = realIfExists(resolve(config.model));
    return { root: dirname(model), source: "the folder of --model", startModel: model };
  }
  return { root: realIfExists(resolve(DEFAULT_MODEL_REPOSITORY)), source: "default ./models", startModel: null };
}

/**
 * The absolute path of `requested` inside the repository (relative paths resolve against it).
 * INVALID_ARGUMENT for an empty or over-long path, PERMISSION_DENIED for one that leads outside.
 */
export function resolveModelPath(requested: string, repository: ModelRoot): string {
  try {
    return confinePath(repository.root, requested, "path");
  } catch (err) {
    if (err instanceof RpcError && err.code === Status.PERMISSION_DENIED) {
      throw permissionDenied(
        `${err.message}. This judge loads models only from its model repository (${repository.source}); copy the model there or start the judge with --model_repository`,
      );
    }
    throw err;
  }
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
      return { name: null, versions: [], problem: `model repository ${root} holds several models (${names.sort().join(", ")}); choose one with --model_name` };
    }
    name = names[0] ?? null;
    if (name === null) return { name: null, versions: [], problem: null };
  } else if (!existsSync(join(root, name))) {
    return { name, versions: [], problem: `model repository ${root} has no folder ${name} (--model_name); create ${join(root, name, "1", "model.onnx")}` };
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
