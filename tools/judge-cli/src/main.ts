import { ConfigError } from "@grpomesh/config";
import { runCli } from "./cli.ts";

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(
      `judge: ${err instanceof Error ? err.message : String(err)}${err instanceof ConfigError ? "\n(npm run judge -- --help lists the commands and settings)" : ""}`,
    );
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
