// `npm run images`: the service images built with buildah from deploy/images/Dockerfile, offline
// (Debian's archive and the npm registry are all it reaches). The base image is made here from
// Debian packages (mmdebstrap: minbase + ca-certificates + libvulkan1) with this machine's node and
// npm added, unless --base names one. Settings a sandboxed build host needs are always passed:
// chroot isolation and the host's network for RUN steps, explicit ulimits, docker format (for
// HEALTHCHECK). Prints a table of images, sizes and build times.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseCommandLine, setting, z, type Values } from "@grpomesh/config";
import { REPO_ROOT } from "./bundle.ts";
import { hasCommand, parseBytes } from "./host.ts";
import { SERVICES } from "./images.ts";

const COMMAND = "npm run images --";
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** The image name component rules (lower-case path segments); enough to refuse shell-hostile input. */
const IMAGE_REF = /^[a-z0-9]+([._/:-][a-z0-9]+)*$/;

export const IMAGES_SETTINGS = {
  targets: setting(
    z.string().refine((v) => v.split(",").every((t) => (SERVICES as readonly string[]).includes(t)), `a comma-separated list of ${SERVICES.join(", ")}`),
    SERVICES.join(","),
    "which Dockerfile targets to build",
  ),
  tag: setting(z.string().regex(IMAGE_TAG, "an image tag"), "0.1.0", "the tag of every image (the manifests name 0.1.0)"),
  prefix: setting(z.string().regex(/^[a-z0-9]+([._/-][a-z0-9]+)*\/$/, "a repository prefix ending in /"), "grpomesh/", "images are <prefix><target>:<tag>"),
  base: setting(
    z.string().refine((v) => v === "" || IMAGE_REF.test(v), "an image reference"),
    "",
    "a base image with Debian, node and npm in /usr/local/bin and a CA bundle; empty: make one with mmdebstrap",
  ),
  rebuild_base: setting(z.boolean(), false, "make the mmdebstrap base again even if it exists"),
  suite: setting(z.enum(["bookworm", "trixie"]), "bookworm", "the Debian suite of the mmdebstrap base"),
  json: setting(z.boolean(), false, "print the result as JSON on stdout"),
};
export type ImagesConfig = Values<typeof IMAGES_SETTINGS>;

export class ImageBuildError extends Error {
  override name = "ImageBuildError";
}

/** The flags every buildah RUN needs on a sandboxed host (and harmlessly elsewhere). */
export const BUILDAH_RUN_FLAGS = ["--isolation", "chroot", "--network", "host", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"] as const;

/** Runs a command, streaming its output to stderr with a prefix; throws with the tail on failure. */
function run(cmd: string, args: string[], opts: { cwd?: string; say: (l: string) => void; prefix: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    opts.say(`$ ${cmd} ${args.join(" ")}`);
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let tail: string[] = [];
    const onData = (isOut: boolean) => (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      if (isOut) out += text;
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        tail = [...tail.slice(-39), line];
        if (/^(STEP|COMMIT|\[\d|Successfully|added \d+ packages|compile:|I: (retrieving|extracting|installing|success))/.test(line))
          opts.say(`${opts.prefix} ${line.slice(0, 200)}`);
      }
    };
    child.stdout.on("data", onData(true));
    child.stderr.on("data", onData(false));
    child.on("error", (e) => reject(new ImageBuildError(`${cmd}: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve(out);
      else reject(new ImageBuildError(`${cmd} ${args.slice(0, 6).join(" ")} … failed (exit ${code}); its last lines:\n${tail.join("\n")}`));
    });
  });
}

function imageExists(ref: string): boolean {
  return spawnSync("buildah", ["inspect", "--type", "image", ref], { stdio: "ignore" }).status === 0;
}

/** Bytes of a local image (buildah's own count of its layers). */
export function imageSize(ref: string): number {
  const r = spawnSync("buildah", ["images", "--json", ref], { encoding: "utf8" });
  if (r.status !== 0) throw new ImageBuildError(`buildah images ${ref}: ${r.stderr.trim()}`);
  const size = (JSON.parse(r.stdout) as Array<{ size?: string }>)[0]?.size ?? "";
  const bytes = parseBytes(size);
  if (!Number.isFinite(bytes)) throw new ImageBuildError(`buildah images ${ref}: cannot read the size ${JSON.stringify(size.slice(0, 40))}`);
  return bytes;
}

/** The node binary and npm folder of this machine, which the mmdebstrap base gets. */
function hostNode(): { node: string; npmDir: string; version: string } {
  const node = realpathSync(process.execPath);
  // npm sets npm_execpath (its npm-cli.js) for the scripts it runs; otherwise npm on PATH.
  const npmCli = process.env.npm_execpath || spawnSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).stdout.trim();
  if (!npmCli) throw new ImageBuildError("npm is not on PATH; the base image gets this machine's node and npm");
  const npmDir = dirname(dirname(realpathSync(npmCli)));
  if (!existsSync(join(npmDir, "package.json"))) throw new ImageBuildError(`could not find npm's folder from ${npmCli} (looked at ${npmDir})`);
  return { node, npmDir, version: process.version };
}

/** The mmdebstrap base: Debian minbase + CA certificates + the Vulkan loader, with node and npm. */
async function makeBase(cfg: ImagesConfig, say: (l: string) => void): Promise<string> {
  const { node, npmDir, version } = hostNode();
  const ref = `localhost/${cfg.prefix}base:${cfg.suite}-node${version.slice(1)}`;
  if (!cfg.rebuild_base && imageExists(ref)) {
    say(`base ${ref} exists (--rebuild_base makes it again)`);
    return ref;
  }
  if (!hasCommand("mmdebstrap")) throw new ImageBuildError("mmdebstrap is not installed: apt-get install -y mmdebstrap (or name a base with --base=IMAGE)");
  const dir = mkdtempSync(join(tmpdir(), "grpomesh-base-"));
  try {
    const started = Date.now();
    await run(
      "mmdebstrap",
      [
        "--variant=minbase",
        "--include=ca-certificates,libvulkan1",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        cfg.suite,
        join(dir, "rootfs.tar"),
      ],
      { say, prefix: "[base]" },
    );
    copyFileSync(node, join(dir, "node"));
    cpSync(npmDir, join(dir, "npm"), { recursive: true });
    // The host's CA bundle: npm inside the build reaches the registry through whatever this host trusts.
    const ca = "/etc/ssl/certs/ca-certificates.crt";
    if (existsSync(ca)) copyFileSync(ca, join(dir, "ca-certificates.crt"));
    else writeFileSync(join(dir, "ca-certificates.crt"), "");
    writeFileSync(
      join(dir, "Containerfile"),
      [
        "FROM scratch",
        "ADD rootfs.tar /",
        "COPY node /usr/local/bin/node",
        "COPY npm /usr/local/lib/node_modules/npm",
        "COPY ca-certificates.crt /usr/local/share/grpomesh-host-ca.crt",
        "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\",
        " && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\",
        " && if [ -s /usr/local/share/grpomesh-host-ca.crt ]; then cp /usr/local/share/grpomesh-host-ca.crt /etc/ssl/certs/ca-certificates.crt; fi \\",
        " && rm /usr/local/share/grpomesh-host-ca.crt && node --version && npm --version",
        // Node trusts the system store too (the host's CAs, e.g. a proxy's, for npm during builds).
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
        'CMD ["node"]',
        "",
      ].join("\n"),
    );
    await run("buildah", ["bud", ...BUILDAH_RUN_FLAGS, "--format", "docker", "-f", join(dir, "Containerfile"), "-t", ref, dir], { say, prefix: "[base]" });
    say(`base ${ref}: Debian ${cfg.suite} minbase + node ${version}, made in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return ref;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

export interface BuiltImage {
  target: string;
  image: string;
  bytes: number;
  seconds: number;
}

/** Builds the targets; returns what was built. */
export async function buildImages(cfg: ImagesConfig, say: (l: string) => void): Promise<{ base: BuiltImage; images: BuiltImage[] }> {
  if (!hasCommand("buildah"))
    throw new ImageBuildError('buildah is not installed: apt-get install -y buildah (Debian), or build with docker (deploy/README.md, "Images")');
  if (process.getuid?.() !== 0) say("not root: buildah runs rootless, which needs subuid/subgid ranges for this user (or run as root)");
  const baseStarted = Date.now();
  const baseRef = cfg.base || (await makeBase(cfg, say));
  const base = { target: "base", image: baseRef, bytes: imageSize(baseRef), seconds: (Date.now() - baseStarted) / 1000 };
  const images: BuiltImage[] = [];
  for (const target of cfg.targets.split(",")) {
    const image = `${cfg.prefix}${target}:${cfg.tag}`;
    const started = Date.now();
    await run(
      "buildah",
      [
        "bud",
        ...BUILDAH_RUN_FLAGS,
        "--format",
        "docker",
        "--layers",
        "-f",
        "deploy/images/Dockerfile",
        "--ignorefile",
        "deploy/images/Dockerfile.dockerignore",
        "--build-arg",
        `BASE_IMAGE=${base.image}`,
        "--target",
        target,
        "-t",
        image,
        ".",
      ],
      { cwd: REPO_ROOT, say, prefix: `[${target}]` },
    );
    const built = { target, image: `localhost/${image}`, bytes: imageSize(`localhost/${image}`), seconds: (Date.now() - started) / 1000 };
    say(`${built.image}: ${mb(built.bytes)}, built in ${built.seconds.toFixed(0)} s`);
    images.push(built);
  }
  return { base, images };
}

/** The command line; returns the exit code. */
export async function buildImagesMain(argv: string[], log = console.log, error = console.error): Promise<number> {
  const { config: cfg } = parseCommandLine(IMAGES_SETTINGS, COMMAND, { argv });
  const started = Date.now();
  try {
    const r = await buildImages(cfg, (l) => error(`images: ${l}`));
    if (cfg.json) log(JSON.stringify({ base: r.base, images: r.images, seconds: (Date.now() - started) / 1000 }, null, 2));
    else {
      log("\n| image | size | build |\n|---|---|---|");
      for (const i of [r.base, ...r.images]) log(`| ${i.image} | ${mb(i.bytes)} | ${i.seconds.toFixed(0)} s |`);
      log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof ImageBuildError)) throw err;
    error(`images: ${err.message}`);
    return 1;
  }
}
