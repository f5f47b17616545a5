// `npm run build-models`: rebuilds every bundled model from scratch with fixed seeds — the Sudoku
// generators (tools/pretrain with configs/pretrain-sudoku*.json → models/sudoku{4,9}/generator/)
// and rule judges (libs/sudoku's make-judge), then the kjv generator (tools/pretrain's defaults →
// models/generator/) and the judge trained against its fill-ins (tools/train-judge →
// models/judge/model.onnx). Settings are not accepted here: run the tools directly to experiment.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine } from "@grpomesh/config";

parseCommandLine({}, "npm run build-models", {
  intro:
    "Rebuilds every model under models/ (models/README.md); to change settings run `npm run pretrain -- --key=value`, `npm run train-judge -- --key=value` or `npm run sudoku-judge -- --key=value`.",
});

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const pretrain = join(ROOT, "tools/pretrain/src/main.ts");
const ruleJudge = join(ROOT, "libs/sudoku/src/make-judge.ts");
const steps: Array<[string, string[]]> = [
  ["pretrain the 4×4 Sudoku generator", [pretrain, "--config=configs/pretrain-sudoku.json"]],
  ["write the 4×4 rule judges", [ruleJudge, "--size=4", "--out=models/sudoku4/judge.onnx"]],
  ["", [ruleJudge, "--size=4", "--dense=0", "--bonus=1", "--out=models/sudoku4/solved-judge.onnx"]],
  ["pretrain the 9×9 Sudoku generator", [pretrain, "--config=configs/pretrain-sudoku9.json"]],
  ["write the 9×9 rule judge", [ruleJudge, "--size=9", "--out=models/sudoku9/judge.onnx"]],
  ["pretrain the kjv generator", [pretrain]],
  ["train the kjv judge", [join(ROOT, "tools/train-judge/src/main.ts")]],
];
const started = performance.now();
for (const [i, [what, args]] of steps.entries()) {
  if (what) console.log(`build-models ${i + 1}/${steps.length}: ${what}`);
  const res = spawnSync(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: "inherit" });
  if (res.status !== 0) {
    console.error(`build-models: "${what}" failed (exit ${res.status ?? res.signal}); models/ may be partly rebuilt — check git status`);
    process.exit(1);
  }
}
console.log(`build-models: done in ${((performance.now() - started) / 60_000).toFixed(1)} min; see models/README.md for the recorded figures`);
