// npm run pretrain -- --key=value ...   (keys and defaults: DEFAULTS in pretrain.ts)
import { parseArgs, pretrain } from "./pretrain.ts";

try {
  const options = parseArgs(process.argv.slice(2));
  const result = await pretrain(options);
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
