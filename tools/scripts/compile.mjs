#!/usr/bin/env node
// Compiles the repository's TypeScript to plain JavaScript for the container images: every
// workspace's src/ (tests left out) becomes .js files in the same layout under OUT, relative imports
// of ".ts" files become ".js", and each workspace's package.json points its exports at the .js
// files, so `node services/judge/src/main.js` runs in OUT with no TypeScript tooling installed
// (after `npm ci --omit=dev` there). Also copied: the root package.json, package-lock.json and
// .npmrc (the production install), the bundled models/ and data/, and the probe
// deploy/images/healthcheck.mjs. Type-checking is tsc's job (`npm run build`); this only strips
// types, with esbuild.
//
//   node tools/scripts/compile.mjs [--out=dist/app]
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Runtime files beside the workspaces, copied as they are. */
const ASSETS = ["models", "data", "deploy/images/healthcheck.mjs", ".npmrc", "package-lock.json"];

/** `"./x.ts"` and `'../y/z.ts'` (relative specifiers and URLs of TypeScript files) → `.js`. */
export function rewriteTsSpecifiers(code) {
  return code.replace(/(["'`])(\.{1,2}\/[^"'`\n]*?)\.ts\1/g, "$1$2.js$1");
}

/** A package.json's exports/main/bin with every "*.ts" path made "*.js" (same folders). */
export function rewritePackageJson(pkg) {
  const map = (v) =>
    typeof v === "string"
      ? v.replace(/\.ts$/, ".js")
      : Array.isArray(v)
        ? v.map(map)
        : v && typeof v === "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, map(x)]))
          : v;
  const out = { ...pkg };
  for (const key of ["exports", "main", "bin"]) if (key in out) out[key] = map(out[key]);
  return out;
}

/** Workspace folders, from the root package.json's "workspaces" globs of the form "dir/*". */
function workspaces(root) {
  const globs = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).workspaces ?? [];
  const dirs = [];
  for (const g of globs) {
    if (!/^[\w.-]+\/\*$/.test(g)) throw new Error(`workspace glob ${g}: only "dir/*" globs are supported`);
    const parent = join(root, g.slice(0, -2));
    for (const name of readdirSync(parent).sort()) if (existsSync(join(parent, name, "package.json"))) dirs.push(join(parent, name));
  }
  return dirs;
}

function walk(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "node_modules") walk(path, out);
    } else out.push(path);
  }
  return out;
}

const isTest = (file) => /\.test\.[cm]?[tj]s$/.test(file);

/** Compiles ROOT into `out`; returns what was written. */
export async function compile({ root = ROOT, out }) {
  out = resolve(out);
  const inRepo = relative(resolve(root), out);
  // It is wiped first: only a folder under the repository's dist/, or one outside the repository.
  if (!inRepo.startsWith("..") && !/^dist[\\/]./.test(inRepo)) throw new Error(`--out=${out}: must be under ${join(root, "dist")} or outside the repository`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const rootPkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  writeFileSync(join(out, "package.json"), JSON.stringify(rootPkg, null, 2) + "\n");
  const entryPoints = [];
  let copied = 0;
  for (const ws of workspaces(root)) {
    const pkg = JSON.parse(readFileSync(join(ws, "package.json"), "utf8"));
    const target = join(out, relative(root, ws));
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, "package.json"), JSON.stringify(rewritePackageJson(pkg), null, 2) + "\n");
    const src = join(ws, "src");
    if (!existsSync(src)) continue;
    for (const file of walk(src)) {
      if (isTest(file)) continue;
      if (file.endsWith(".ts") && !file.endsWith(".d.ts")) entryPoints.push(file);
      else if (!file.endsWith(".d.ts")) {
        const dest = join(out, relative(root, file));
        mkdirSync(dirname(dest), { recursive: true });
        cpSync(file, dest);
        copied++;
      }
    }
  }
  const result = await build({
    absWorkingDir: root,
    entryPoints,
    outbase: root,
    outdir: out,
    bundle: false,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "silent",
  });
  for (const f of result.outputFiles) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, rewriteTsSpecifiers(f.text));
  }
  for (const a of ASSETS) {
    const from = join(root, a);
    if (!existsSync(from)) throw new Error(`${a} is missing under ${root}`);
    // The judge's tfjs checkpoint is a git-ignored intermediate; its ONNX file is what ships.
    cpSync(from, join(out, a), { recursive: true, filter: (p) => relative(root, p) !== join("models", "judge", "model.safetensors") });
  }
  return { out, compiled: result.outputFiles.length, copied };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = process.argv.slice(2).find((a) => a.startsWith("--out="));
  const unknown = process.argv.slice(2).filter((a) => !a.startsWith("--out="));
  if (unknown.length) {
    console.error(`compile: unknown argument ${unknown[0]}\nusage: node tools/scripts/compile.mjs [--out=dist/app]`);
    process.exit(2);
  }
  const started = Date.now();
  const r = await compile({ out: arg ? arg.slice(6) : join(ROOT, "dist/app") });
  console.error(
    `compile: ${r.compiled} TypeScript files → ${relative(process.cwd(), r.out) || "."} (${r.copied} other files copied) in ${Date.now() - started} ms`,
  );
}
