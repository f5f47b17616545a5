// Every relative link in the repository's Markdown resolves; and the checker does catch what it
// should, on a planted fixture.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { checkLinks, extractLinks, findMarkdownFiles, formatBroken, headingAnchors, outsideCitations } from "./docs-links.ts";

const REPO_ROOT = resolve(import.meta.dirname, "../..");

test("every relative link in every *.md of the repository resolves (files, folders, #anchors into Markdown)", () => {
  const files = findMarkdownFiles(REPO_ROOT);
  assert.ok(
    files.some((f) => f.endsWith("README.md")),
    "found no README.md: the search is broken",
  );
  // Relative to the checkout: the checkout itself may lie under a folder named tmp.
  assert.ok(!files.some((f) => /(^|[\\/])(node_modules|runs|tmp|\.git)[\\/]/.test(relative(REPO_ROOT, f))), "searched a folder it should skip");
  const broken = checkLinks(REPO_ROOT, files);
  assert.deepEqual(broken.map(formatBroken), [], "fix these links (paths are relative to the Markdown file that holds them)");
});

test("headingAnchors follows GitHub's slugs: lower case, punctuation dropped, code kept, repeats numbered", () => {
  const a = headingAnchors("# Title\n## Metrics (`GET :9464/metrics`)\n## Flags and environment\n## Flags and environment\n```\n# not a heading\n```\n");
  assert.deepEqual([...a].sort(), ["flags-and-environment", "flags-and-environment-1", "metrics-get-9464metrics", "title"]);
});

test("extractLinks finds inline links, images and definitions, and skips code", () => {
  const links = extractLinks('[a](x.md) ![i](img.png "t") `[no](code.md)`\n```\n[no](fenced.md)\n```\n[ref]: <y z.md>\n');
  assert.deepEqual(links, [
    { target: "x.md", line: 1 },
    { target: "img.png", line: 1 },
    { target: "y z.md", line: 5 },
  ]);
});

test("checkLinks reports a missing file, a missing folder and a missing anchor, and passes the good links", () => {
  const root = mkdtempSync(join(tmpdir(), "docs-links-"));
  try {
    mkdirSync(join(root, "docs"));
    mkdirSync(join(root, "node_modules", "pkg"), { recursive: true });
    writeFileSync(join(root, "node_modules", "pkg", "README.md"), "[broken](nowhere.md)\n");
    writeFileSync(join(root, "docs", "design.md"), "# Design\n## The roles\n");
    writeFileSync(
      join(root, "README.md"),
      [
        "[design](docs/design.md) [roles](docs/design.md#the-roles) [here](#readme) [folder](docs/) [web](https://example.com/x.md)",
        "# Readme",
        "[gone](docs/gone.md)",
        "[no anchor](docs/design.md#the-rules) [no folder](services/nothing/)",
        "`[in code](nothing.md)`",
        `[beside the checkout](../${basename(root)}-beside/notes.md)`,
      ].join("\n"),
    );
    // It exists on this machine, beside the checkout, and is still refused: users do not have it.
    const beside = `${root}-beside`;
    mkdirSync(beside, { recursive: true });
    writeFileSync(join(beside, "notes.md"), "# Notes\n");
    const broken = checkLinks(root);
    rmSync(beside, { recursive: true, force: true });
    assert.deepEqual(
      broken.map((b) => [b.file, b.line, b.target]),
      [
        ["README.md", 3, "docs/gone.md"],
        ["README.md", 4, "docs/design.md#the-rules"],
        ["README.md", 4, "services/nothing/"],
        ["README.md", 6, `../${basename(root)}-beside/notes.md`],
      ],
    );
    assert.match(broken[3]!.reason, /is outside the repository/);
    assert.match(formatBroken(broken[0]!), /README\.md:3: link docs\/gone\.md — docs\/gone\.md does not exist/);
    assert.match(broken[1]!.reason, /no heading with anchor #the-rules/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("no Markdown file cites a design document outside the repository or an issue number", () => {
  const found = findMarkdownFiles(REPO_ROOT).flatMap((f) =>
    outsideCitations(readFileSync(f, "utf8")).map((c) => `${relative(REPO_ROOT, f)}:${c.line}: ${c.what}: ${c.text}`),
  );
  assert.deepEqual(found, [], "rephrase these so the repository's docs stand alone (docs/design.md holds the design)");
});

test("outsideCitations catches the planted citations and leaves code, anchors and ordinary words alone", () => {
  const text = [
    "See HANDBOOK.md §5 for sizes.", // 1
    "The tests of #4 check it; issue 11 asked for it.", // 2
    "A CA `Issuer` and [a heading](#3-things) and `HANDBOOK §2` in code.", // 3
    "```", // 4
    "HANDBOOK.md §12 #12", // 5 (fenced)
    "```", // 6
  ].join("\n");
  assert.deepEqual(
    outsideCitations(text).map((c) => c.line),
    [1, 2],
  );
});
