// `npm run build-models`: rebuilds the bundled default models from scratch with fixed seeds —
// the generator (tools/pretrain → models/generator/) and then the judge, trained against that
// generator's fill-ins (tools/train-judge → models/judge/model.onnx). Extra --key=value flags are
// not accepted here: run the two tools directly to experiment.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const steps: Array<[string, string[]]> = [
  ["pretrain the generator", [join(ROOT, "tools/pretrain/src/main.ts")]],
  ["train the judge", [join(ROOT, "tools/train-judge/src/main.ts")]],
];
if (process.argv.length > 2) {
  console.error("build-models takes no options; run `npm run pretrain -- --key=value` or `npm run train-judge -- --key=value` to change settings");
  process.exit(2);
}
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
