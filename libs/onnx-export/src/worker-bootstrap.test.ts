import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { workerBootstrap } from "./worker-bootstrap.ts";

test("workerBootstrap: a compiled module is imported as it is; a TypeScript one through tsx's loader", async () => {
  const js = "data:text/javascript,import { parentPort } from 'node:worker_threads'; parentPort.postMessage('js');";
  assert.equal(workerBootstrap(js), `import(${JSON.stringify(js)})`);
  const worker = new Worker(workerBootstrap(js), { eval: true });
  try {
    assert.equal(await new Promise((resolve, reject) => (worker.once("message", resolve), worker.once("error", reject))), "js");
  } finally {
    await worker.terminate();
  }
  const ts = new URL("./worker-bootstrap.ts", import.meta.url).href;
  assert.match(workerBootstrap(ts), /tsx\.register\(\); return import\(".*worker-bootstrap\.ts"\)/);
});
