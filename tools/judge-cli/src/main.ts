import { runCli } from "./cli.ts";

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`judge: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
