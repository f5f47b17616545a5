// Paths that a request names are confined to a root the operator chose: a request can never make a
// service read or write outside it, by `..`, by an absolute path, or through a symbolic link.
import { existsSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { echo, invalidArgument, permissionDenied } from "./errors.ts";

/** Longest path a request may name, in bytes (PATH_MAX on Linux). */
export const MAX_PATH_BYTES = 4096;

/** Checks a path field's size and characters: INVALID_ARGUMENT naming `field`. */
export function checkPathField(value: string, field: string): void {
  if (value === "") throw invalidArgument(`${field} is empty; expected a path`);
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > MAX_PATH_BYTES) throw invalidArgument(`${field} is ${bytes} bytes (${echo(value, 80)}); paths are at most ${MAX_PATH_BYTES} bytes`);
  if (value.includes("\0")) throw invalidArgument(`${field} ${echo(value)} contains a NUL character`);
}

const inside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
};

/** The real path of `path`'s deepest existing ancestor, with the rest appended (symlinks resolved). */
function realPathOfNearest(path: string): string {
  let existing = path;
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    rest.unshift(existing.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
    existing = parent;
  }
  return resolve(realpathSync(existing), ...rest);
}

/**
 * `requested` resolved against `root` (relative paths are inside it), or PERMISSION_DENIED when it
 * leads outside — lexically or through a symbolic link. `field` names the request field in messages.
 */
export function confinePath(root: string, requested: string, field: string): string {
  checkPathField(requested, field);
  const absRoot = resolve(root);
  const path = resolve(absRoot, requested);
  const outside = () =>
    permissionDenied(
      `${field} ${echo(requested)} is outside ${absRoot}, the only folder this service reads and writes on request; use a path inside it (relative paths resolve against it)`,
    );
  if (!inside(absRoot, path)) throw outside();
  if (existsSync(absRoot) && !inside(realpathSync(absRoot), realPathOfNearest(path))) throw outside();
  return path;
}
