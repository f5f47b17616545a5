// Model paths. With a model repository configured, every path (the start model and LoadModel's)
// resolves against it and must stay inside it, symlinks included: LoadModel is an admin RPC, but
// it must not become a way to read arbitrary files on the node.
import { existsSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
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
