// npm run report -- RUN_DIR [RUN_DIR …] [--out=FILE]: the run report of one run (written to
// RUN_DIR/report.html) or a comparison of several (written to --out, default ./report-compare.html).
import { resolve } from "node:path";
import { parseCommandLine, setting, z } from "@grpomesh/config";
import { writeAtomic } from "@grpomesh/loop";
import { REPORT_FILE, readRun, renderReport } from "./report.ts";

const { config, positional } = parseCommandLine(
  {
    out: setting(z.string(), "", "where to write the HTML; empty: RUN_DIR/report.html for one run, ./report-compare.html for several"),
    title: setting(z.string(), "", "the report's title; empty: the run folders' names"),
  },
  "npm run report -- RUN_DIR [RUN_DIR …]",
  { maxPositional: 16 },
);
if (!positional.length) {
  console.error("report: name at least one run directory (e.g. npm run report -- runs/2026-12-05T10-00-00); --help lists the options");
  process.exit(2);
}
try {
  const runs = positional.map((dir) => readRun(dir));
  const out = resolve(config.out || (runs.length === 1 ? `${positional[0]}/${REPORT_FILE}` : "report-compare.html"));
  writeAtomic(out, await renderReport(runs, config.title ? { title: config.title } : {}));
  console.log(`report: ${runs.map((r) => `${r.name} (${r.steps.length} steps)`).join(", ")} → ${out}`);
} catch (err) {
  console.error(`report: ${(err as Error).message}`);
  process.exit(1);
}
