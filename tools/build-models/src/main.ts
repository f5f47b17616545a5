// `npm run build-models`: rebuilds the bundled default models from scratch with fixed seeds —
// the generator (tools/pretrain → models/generator/) and then the judge, trained against that
// generator's fill-ins (tools/train-judge → models/judge/model.onnx). Settings are not accepted
// here: run the two tools directly to experiment.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine } from "@grpomesh/config";

parseCommandLine({}, "npm run build-models", {
  intro:
    "Rebuilds models/generator and models/judge with the defaults; to change settings run `npm run pretrain -- --key=value` or `npm run train-judge -- --key=value`.",
});

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const steps: Array<[string, string[]]> = [
  ["pretrain the generator", [join(ROOT, "tools/pretrain/src/main.ts")]],
  ["train the judge", [join(ROOT, "tools/train-judge/src/main.ts")]],
];
const started = performance.now();
for (const [i, [what, args]] of steps.entries()) {
  console.log(`build-models ${i + 1}/${steps.length}: ${what}`);
  const res = spawnSync(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: "inherit" });
  if (res.status !== 0) {
    console.error(`build-models: "${what}" failed (exit ${res.status ?? res.signal}); models/ may be partly rebuilt — check git status`);
    process.exit(1);
  }
}
console.log(`build-models: done in ${((performance.now() - started) / 60_000).toFixed(1)} min; see models/README.md for the recorded figures`);
