// npm run pretrain -- --key=value ...   (`--help` lists the settings: settings.ts)
import { parseCommandLine } from "@grpomesh/config";
import { pretrain } from "./pretrain.ts";
import { PRETRAIN_ENV_PREFIX, PRETRAIN_SETTINGS, pretrainRelations } from "./settings.ts";

const { config } = parseCommandLine(PRETRAIN_SETTINGS, "npm run pretrain --", { check: pretrainRelations, envPrefix: PRETRAIN_ENV_PREFIX });
try {
  const result = await pretrain(config);
  console.log(
    JSON.stringify({
      steps: result.steps,
      stopped_by: result.stoppedBy,
      heldout_before: result.before,
      heldout_after: result.after,
      out: result.out,
      sha256: result.digest,
    }),
  );
} catch (err) {
  console.error(`pretrain: ${(err as Error).message}`);
  process.exit(1);
}
