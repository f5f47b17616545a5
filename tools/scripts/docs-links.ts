// Checks the relative links of every Markdown file in the repository: each must name a file or
// folder that exists, and a `#anchor` into a Markdown file must name one of its headings (GitHub's
// slugs). Links with a scheme (https:, mailto:) are not followed: no network in tests.
//   node --import tsx tools/scripts/docs-links.ts [root]   prints every broken link, exits 1 if any
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Folders never searched: installed packages, run output, scratch space, VCS and build output. */
export const SKIP_DIRS = new Set(["node_modules", "runs", "tmp", ".git", "dist", ".nx"]);

export interface BrokenLink {
  /** The Markdown file, relative to the root. */
  file: string;
  line: number;
  target: string;
  reason: string;
}

export function findMarkdownFiles(root: string, dir = root, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) findMarkdownFiles(root, path, out);
    else if (name.endsWith(".md")) out.push(path);
  }
  return out;
}

/** The text with fenced code blocks (and inline code spans, unless keepSpans) blanked; line numbers kept. */
function withoutCode(text: string, keepSpans = false): string {
  const lines = text.split("\n");
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(lines[i]!);
    if (fence !== null) {
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length) fence = null;
      lines[i] = "";
    } else if (m) {
      fence = m[1]!;
      lines[i] = "";
    } else if (!keepSpans) {
      lines[i] = lines[i]!.replace(/(`+)[^`]*?\1/g, (s) => " ".repeat(s.length));
    }
  }
  return lines.join("\n");
}

/** Every link target with its line: inline `[text](target "title")`, images, and `[id]: target` definitions. */
export function extractLinks(text: string): Array<{ target: string; line: number }> {
  const out: Array<{ target: string; line: number }> = [];
  withoutCode(text)
    .split("\n")
    .forEach((line, i) => {
      for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+["'(][^)]*)?\)/g)) {
        out.push({ target: m[1]!.replace(/^<|>$/g, ""), line: i + 1 });
      }
      const def = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
      if (def) out.push({ target: def[1]!.replace(/^<|>$/g, ""), line: i + 1 });
    });
  return out;
}

/** GitHub's anchors for a Markdown file's headings (lower case, punctuation dropped, spaces → "-", repeats numbered). */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(text, true).split("\n")) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .replace(/<[^>]*>/g, "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Broken relative links of the given Markdown files; paths in the result are relative to root. */
export function checkLinks(root: string, files: readonly string[] = findMarkdownFiles(root)): BrokenLink[] {
  const broken: BrokenLink[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchorsOf = (path: string) => {
    let a = anchorCache.get(path);
    if (!a) anchorCache.set(path, (a = headingAnchors(readFileSync(path, "utf8"))));
    return a;
  };
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const { target, line } of extractLinks(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue; // https:, mailto:, …
      const hash = target.indexOf("#");
      const pathPart = (hash >= 0 ? target.slice(0, hash) : target).replace(/\?.*$/, "");
      const anchor = hash >= 0 ? target.slice(hash + 1) : "";
      let decoded: string;
      try {
        decoded = decodeURIComponent(pathPart);
      } catch {
        broken.push({ file: relative(root, file), line, target, reason: "the path is not valid URI encoding" });
        continue;
      }
      const resolved = decoded === "" ? file : decoded.startsWith("/") ? join(root, decoded) : resolve(dirname(file), decoded);
      const where = relative(root, resolved) || ".";
      if (where === ".." || where.startsWith(`..${sep}`) || isAbsolute(where)) {
        // Whatever lies beside this checkout on one machine is not there for a user of the repository.
        broken.push({ file: relative(root, file), line, target, reason: `${where} is outside the repository` });
        continue;
      }
      if (!existsSync(resolved)) {
        broken.push({ file: relative(root, file), line, target, reason: `${where} does not exist` });
        continue;
      }
      if (anchor && resolved.endsWith(".md") && statSync(resolved).isFile()) {
        let a: string;
        try {
          a = decodeURIComponent(anchor).toLowerCase();
        } catch {
          a = anchor.toLowerCase();
        }
        if (!anchorsOf(resolved).has(a)) broken.push({ file: relative(root, file), line, target, reason: `${where} has no heading with anchor #${anchor}` });
      }
    }
  }
  return broken;
}

/**
 * Citations a document of this repository must not make: a numbered section of some document
 * (this repository's docs are linked by heading, so a "§" points elsewhere), or an issue number.
 * Links that leave the repository are refused by checkLinks.
 */
export const OUTSIDE_CITATIONS: ReadonlyArray<{ pattern: RegExp; what: string }> = [
  { pattern: /§\s*\d/, what: "a numbered section of a document (link a heading of this repository's docs instead)" },
  { pattern: /(^|[\s,;])#\d+\b|\bissues? #?\d+\b/i, what: "an issue number (say what the change was instead)" },
];

/** Lines of Markdown prose (code blanked) that cite something outside the repository. */
export function outsideCitations(text: string): Array<{ line: number; what: string; text: string }> {
  const out: Array<{ line: number; what: string; text: string }> = [];
  withoutCode(text)
    .split("\n")
    .forEach((line, i) => {
      for (const c of OUTSIDE_CITATIONS) if (c.pattern.test(line)) out.push({ line: i + 1, what: c.what, text: line.trim().slice(0, 120) });
    });
  return out;
}

export function formatBroken(b: BrokenLink): string {
  return `${b.file}:${b.line}: link ${b.target} — ${b.reason}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? ".");
  const broken = checkLinks(root);
  for (const b of broken) console.log(formatBroken(b));
  console.log(
    broken.length === 0
      ? `docs-links: every relative link in ${findMarkdownFiles(root).length} Markdown files resolves`
      : `docs-links: ${broken.length} broken`,
  );
  process.exit(broken.length === 0 ? 0 : 1);
}
