// docs/configuration.md is what the settings tables say: regenerated, it must not change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setting, z } from "@grpomesh/config";
import { CONFIG_DOCS_COMMAND, CONFIG_DOCS_PATH, configDocs } from "./config-docs.ts";

test("docs/configuration.md is up to date with the settings tables", () => {
  const committed = readFileSync(CONFIG_DOCS_PATH, "utf8");
  assert.ok(committed === configDocs(), `docs/configuration.md differs from the settings tables; regenerate it with: ${CONFIG_DOCS_COMMAND}`);
});

test("a setting spread into several tables is indexed with the roles that read it; same-named settings defined apart are not", () => {
  const port = setting(z.int().min(0), 1, "a shared port");
  const docs = configDocs([
    { name: "alpha", command: "alpha", envPrefix: "ALPHA_", table: { port, threads: setting(z.int(), 0, "alpha threads") } },
    { name: "beta", command: "beta", table: { port, threads: setting(z.int(), 0, "beta threads") } },
  ]);
  assert.match(docs, /\| `port` \| \[alpha\]\(#alpha\), \[beta\]\(#beta\) \| an integer ≥ 0 \| `1` \| a shared port \|/);
  assert.doesNotMatch(docs, /\| `threads` \| \[alpha\]/);
  assert.match(docs, /## alpha\n\n`alpha --help`; environment variables `ALPHA_<KEY>`\.\n\n\| key \|/);
});
