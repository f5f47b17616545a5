// Module-boundary check in the spirit of @nx/enforce-module-boundaries: projects are the npm
// workspaces, their Nx tags come from package.json "nx.tags", the rules from boundaries.json.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

export interface Project {
  name: string;
  root: string;
  tags: string[];
  declared: Set<string>;
}

export interface DepConstraint {
  sourceTag: string;
  onlyDependOnLibsWithTags: string[];
}

export interface Violation {
  file: string;
  line: number;
  message: string;
}

export function loadWorkspace(workspaceRoot: string): Project[] {
  const pkg = JSON.parse(readFileSync(join(workspaceRoot, "package.json"), "utf8")) as { workspaces?: string[] };
  const projects: Project[] = [];
  for (const pattern of pkg.workspaces ?? []) {
    if (!pattern.endsWith("/*")) throw new Error(`workspace pattern "${pattern}" is not of the form dir/*`);
    const dir = join(workspaceRoot, pattern.slice(0, -2));
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const root = join(dir, name);
      const manifest = join(root, "package.json");
      if (!existsSync(manifest)) continue;
      const p = JSON.parse(readFileSync(manifest, "utf8")) as {
        name: string;
        nx?: { tags?: string[] };
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
      projects.push({
        name: p.name,
        root,
        tags: p.nx?.tags ?? [],
        declared: new Set([...Object.keys(p.dependencies ?? {}), ...Object.keys(p.devDependencies ?? {})]),
      });
    }
  }
  return projects;
}

// Static imports/exports must start a line (so import-like text inside strings is not mistaken
// for one); dynamic import() and require() count anywhere.
const IMPORT_RE =
  /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']|\brequire\s*\(\s*["']([^"']+)["']/gm;

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    if (name === "node_modules" || name === "gen") return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.(ts|mts|js|mjs)$/.test(name) ? [path] : [];
  });
}

export function checkProject(project: Project, all: Project[], constraints: DepConstraint[], workspaceRoot: string): Violation[] {
  const byName = new Map(all.map((p) => [p.name, p]));
  const violations: Violation[] = [];
  const rules = constraints.filter((c) => project.tags.includes(c.sourceTag));
  if (!project.tags.some((t) => t.startsWith("type:")) || !project.tags.some((t) => t.startsWith("scope:"))) {
    violations.push({
      file: relative(workspaceRoot, join(project.root, "package.json")),
      line: 1,
      message: `${project.name} needs a scope:* and a type:* tag in package.json "nx.tags"`,
    });
  }
  for (const file of sourceFiles(join(project.root, "src"))) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(IMPORT_RE)) {
      const spec = (match[1] ?? match[2] ?? match[3] ?? match[4])!;
      const line = text.slice(0, match.index + match[0].length).split("\n").length;
      const where = { file: relative(workspaceRoot, file), line };
      let target: Project | undefined;
      if (spec.startsWith(".")) {
        const resolved = resolve(dirname(file), spec);
        if (resolved === project.root || resolved.startsWith(project.root + sep)) continue;
        target = all.find((p) => resolved === p.root || resolved.startsWith(p.root + sep));
        violations.push({
          ...where,
          message: `relative import "${spec}" leaves ${project.name}${target ? `; import "${target.name}" instead` : ""}`,
        });
        continue;
      }
      const pkgName = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
      target = byName.get(pkgName);
      if (!target || target === project) continue;
      if (!project.declared.has(target.name)) {
        violations.push({ ...where, message: `${project.name} imports ${target.name} but does not list it in package.json dependencies` });
      }
      for (const rule of rules) {
        if (!target.tags.some((t) => rule.onlyDependOnLibsWithTags.includes(t))) {
          violations.push({
            ...where,
            message: `${project.name} (${rule.sourceTag}) may only depend on projects tagged ${rule.onlyDependOnLibsWithTags.join(" or ")}; ${target.name} is tagged ${target.tags.join(", ") || "nothing"}`,
          });
        }
      }
    }
  }
  return violations;
}

/** Cycles among declared workspace dependencies, each as a list of names. */
export function findCycles(all: Project[]): string[][] {
  const byName = new Map(all.map((p) => [p.name, p]));
  const cycles: string[][] = [];
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string) => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      cycles.push([...stack.slice(stack.indexOf(name)), name]);
      return;
    }
    state.set(name, "visiting");
    stack.push(name);
    for (const dep of byName.get(name)?.declared ?? []) if (byName.has(dep)) visit(dep);
    stack.pop();
    state.set(name, "done");
  };
  all.forEach((p) => visit(p.name));
  return cycles;
}
