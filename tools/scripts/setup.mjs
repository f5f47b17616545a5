#!/usr/bin/env node
// The Debian packages the test suite uses beyond Node.js, installed from Debian's archive (the only
// network besides npm that CI machines reach):
//   - libvulkan1 (the Vulkan loader) and mesa-vulkan-drivers (Mesa's lavapipe, a software Vulkan
//     adapter): the WebGPU tests run onnxruntime's WebGPU provider on it. Dawn needs Mesa ≥ 25,
//     so the driver comes from bookworm-backports (bookworm's 22.3 lacks features Dawn needs).
//   - prometheus (the server and promtool): the alert rules' unit tests, `promtool check metrics`
//     on every service, and a real Prometheus scraping a training stack.
//   - iproute2 (ip, tc): `npm run sim` makes its hosts with them (network namespaces, veth, tbf).
// and, from npm rather than Debian (no root needed), kubectl ≥ 1.27 for the kustomize it embeds
// when none is on PATH: tools/deploy-check renders every overlay with it (tools/deploy-check/src/kubectl.mjs).
//
//   npm run setup             install what is missing (needs root and apt-get)
//   node tools/scripts/setup.mjs --check
//                             only say what is missing (exit 0 either way)
//   node tools/scripts/setup.mjs --ci
//                             `npm test` runs this first: installs in CI (CI=true), checks elsewhere
//   node tools/scripts/setup.mjs --kubectl
//                             only fetch kubectl (when PATH has none ≥ 1.27)
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fetchKubectl, findKubectl, FETCH_KUBECTL_COMMAND } from "../deploy-check/src/kubectl.mjs";

/** package → the lowest version that works, and the suite it comes from when Debian's default is older. */
const PACKAGES = [
  { name: "libvulkan1", min: "1.3", suite: null, why: "the Vulkan loader (WebGPU tests)" },
  { name: "mesa-vulkan-drivers", min: "25", suite: "bookworm-backports", why: "Mesa's lavapipe, a software Vulkan adapter (WebGPU tests)" },
  { name: "prometheus", min: "2.42", suite: null, why: "Prometheus and promtool (alert rule and metrics tests)" },
  { name: "iproute2", min: "6.1", suite: null, why: "ip and tc: npm run sim's hosts (network namespaces, veth, tbf) and their tests" },
];
const BACKPORTS_LIST = "/etc/apt/sources.list.d/grpomesh-bookworm-backports.sources";

const mode = process.argv.includes("--check") ? "check" : process.argv.includes("--ci") ? (process.env.CI === "true" ? "install" : "check") : "install";
const say = (line) => console.error(`setup: ${line}`);

// kubectl first: it needs no root, so it does not wait on the Debian packages' sudo.
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const kubectl = findKubectl(ROOT);
if ("problem" in kubectl && (mode === "install" || process.argv.includes("--kubectl"))) {
  try {
    fetchKubectl(ROOT, say);
  } catch (err) {
    say(`cannot fetch kubectl: ${err.message}`);
    // In CI the overlays must be rendered and checked: fail here, where the reason is plain.
    if (process.env.CI === "true" || process.argv.includes("--kubectl")) process.exit(1);
  }
} else if ("problem" in kubectl) {
  say(`${kubectl.problem.replace(/; run: .*$/, "")}: the kustomize render tests will skip. Fetch it with: ${FETCH_KUBECTL_COMMAND}`);
}
if (process.argv.includes("--kubectl")) process.exit(0);

function installedVersion(name) {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}\t${Version}", name], { encoding: "utf8" });
  if (r.status !== 0) return null;
  const [status, version] = r.stdout.split("\t");
  return status.endsWith(" installed") ? version : null;
}

function atLeast(version, min) {
  const a = version
    .replace(/^\d+:/, "")
    .split(/[.~+-]/)
    .map(Number);
  const b = min.split(".").map(Number);
  for (let i = 0; i < b.length; i++) {
    if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) > b[i];
  }
  return true;
}

/** Root runs commands as they are; anyone else through `sudo -n` (no password prompt), where it works. */
const asRoot = process.getuid?.() === 0 ? [] : ["sudo", "-n", "--"];

function run(command, args) {
  [command, ...args] = [...asRoot, command, ...args];
  say(`$ ${command} ${args.join(" ")}`);
  const r = spawnSync(command, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
}

function debianCodename() {
  try {
    return /^VERSION_CODENAME=(.*)$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
}

const missing = PACKAGES.filter((p) => {
  const v = installedVersion(p.name);
  return v === null || !atLeast(v, p.min);
});
if (missing.length === 0) process.exit(0);
const list = missing.map((p) => `${p.name} ≥ ${p.min} (${p.why})`).join(", ");
if (mode === "check") {
  say(`missing ${list}: the tests that need them will skip. Install them with: npm run setup (root, Debian)`);
  process.exit(0);
}
try {
  if (!existsSync("/usr/bin/apt-get")) throw new Error("apt-get is not on this machine (Debian or Ubuntu expected)");
  if (asRoot.length && spawnSync("sudo", ["-n", "true"]).status !== 0)
    throw new Error("installing Debian packages needs root (or sudo without a password); run: sudo npm run setup");
  const codename = debianCodename();
  const backports = missing.some((p) => p.suite === "bookworm-backports");
  if (backports && codename !== "bookworm")
    throw new Error(
      `Mesa ≥ 25 comes from bookworm-backports, but this is ${codename || "not Debian"}: install mesa-vulkan-drivers ≥ 25 and libvulkan1 from your distribution`,
    );
  if (backports && !existsSync(BACKPORTS_LIST)) {
    say(`adding ${BACKPORTS_LIST} (Debian's bookworm-backports, main)`);
    const source =
      "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";
    if (!asRoot.length) writeFileSync(BACKPORTS_LIST, source);
    else if (spawnSync("sudo", ["-n", "tee", BACKPORTS_LIST], { input: source, stdio: ["pipe", "ignore", "inherit"] }).status !== 0) {
      throw new Error(`cannot write ${BACKPORTS_LIST} with sudo`);
    }
  }
  run("apt-get", ["update", "-q"]);
  const plain = missing.filter((p) => p.suite === null).map((p) => p.name);
  const fromBackports = missing.filter((p) => p.suite !== null).map((p) => p.name);
  if (plain.length) run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...plain]);
  if (fromBackports.length) run("apt-get", ["install", "-y", "-q", "--no-install-recommends", "-t", "bookworm-backports", ...fromBackports]);
  say(`installed ${missing.map((p) => `${p.name} ${installedVersion(p.name)}`).join(", ")}`);
} catch (err) {
  say(`cannot install ${list}: ${err.message}`);
  // In CI the WebGPU tests must run: fail here, where the reason is plain, not in the tests.
  process.exit(1);
}
