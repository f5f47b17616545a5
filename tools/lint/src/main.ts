// `lint` target of every project: module boundaries (tags), declared dependencies, no cycles.
// Usage: node --import tsx tools/lint/src/main.ts [project-dir ...]   (no dirs: every project)
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkProject, findCycles, loadWorkspace, type DepConstraint } from "./boundaries.ts";

const workspaceRoot = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
const { depConstraints } = JSON.parse(readFileSync(new URL("../boundaries.json", import.meta.url), "utf8")) as { depConstraints: DepConstraint[] };
const all = loadWorkspace(workspaceRoot);
const dirs = process.argv.slice(2).map((d) => resolve(d));
const selected = dirs.length ? all.filter((p) => dirs.includes(p.root)) : all;
if (dirs.length && selected.length !== dirs.length) {
  console.error(`not a workspace project: ${dirs.filter((d) => !all.some((p) => p.root === d)).join(", ")}`);
  process.exit(2);
}
const problems = selected.flatMap((p) => checkProject(p, all, depConstraints, workspaceRoot).map((v) => `${v.file}:${v.line}: ${v.message}`));
for (const cycle of findCycles(all)) if (selected.some((p) => cycle.includes(p.name))) problems.push(`dependency cycle: ${cycle.join(" → ")}`);
if (problems.length) {
  console.error(problems.join("\n"));
  console.error(`\n${problems.length} module-boundary problem(s)`);
  process.exit(1);
}
console.log(`module boundaries ok: ${selected.map((p) => p.name).join(", ")}`);
