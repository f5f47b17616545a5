// node --import tsx libs/sudoku/src/make-judge.ts --size=4 --out=models/sudoku4/judge.onnx
// (`npm run sudoku-judge -- …`): writes the rule judge (rule-judge.ts) as an ONNX file.
import { mkdirSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { parseCommandLine } from "@grpomesh/config";
import { buildRuleJudge } from "./rule-judge.ts";
import { SUDOKU_JUDGE_ENV_PREFIX, SUDOKU_JUDGE_SETTINGS } from "./judge-settings.ts";

const { config: o } = parseCommandLine(SUDOKU_JUDGE_SETTINGS, "npm run sudoku-judge --", { envPrefix: SUDOKU_JUDGE_ENV_PREFIX });
const bytes = buildRuleJudge({ size: o.size === 4 ? 4 : 9, dense: o.dense, bonus: o.bonus, ...(o.version ? { version: o.version } : {}) });
mkdirSync(dirname(o.out), { recursive: true });
writeFileSync(o.out, bytes);
console.log(
  `wrote ${o.out}: ${o.size}×${o.size} rule judge, score = ${o.dense}·fraction + ${o.bonus}·valid (${bytes.length} bytes, sha256 ${createHash("sha256").update(bytes).digest("hex").slice(0, 12)})`,
);
