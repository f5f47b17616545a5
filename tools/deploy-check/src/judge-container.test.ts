import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { randomScorerOnnx, scorerConfig } from "@grpomesh/judge";
import { loadSecurity, waitForServing } from "@grpomesh/rpc";
import { REPO_ROOT } from "./bundle.ts";
import { flagValue, healthcheckProbe } from "./credentials.ts";
import { makeClusterSecrets, secretData } from "./secrets.ts";
import { containerCommands } from "./services.ts";
import { bundle, container } from "./test/helpers.ts";

// The judge Deployment's container, run as the pod would run it (same command, args and resolved
// env; only its volume mounts moved under a temp folder and its ports made free ones), against a
// small random model placed where JUDGE_MODEL says, and the judge-tls and admin-token Secrets that
// deploy/scripts/make-secrets.ts makes placed where the pod mounts them: it must come up SERVING
// over mutual TLS for the readiness probe's service name, pass the readiness probe's own command
// and serve /metrics. Listen addresses become 127.0.0.1 (tests bind loopback only).

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("the judge container's command", () => {
  const dir = mkdtempSync(join(tmpdir(), "deploy-check-judge-"));
  let child: ChildProcess | undefined;
  let output = "";
  after(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts a judge that serves the model named by the ConfigMap", async () => {
    const b = bundle();
    const cc = containerCommands(b).find((c) => c.service === "judge");
    assert.ok(cc, "no container runs the judge");
    const mounts = (container(b, "Deployment", "judge").volumeMounts ?? []).map((m) => m.mountPath!);
    const moved = (text: string) =>
      mounts.reduce((t, m) => t.replace(new RegExp(`(^|=)${m.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(?=/|$)`), `$1${dir}${m}`), text);
    const grpcPort = await freePort();
    const metricsPort = await freePort();
    const argv = cc.checkoutArgv.map((a) =>
      moved(a)
        .replace(/^--address=0\.0\.0\.0:\d+$/, `--address=127.0.0.1:${grpcPort}`)
        .replace(/^--metrics_port=\d+$/, `--metrics_port=${metricsPort}`)
        .replace(/^--metrics_host=0\.0\.0\.0$/, "--metrics_host=127.0.0.1"),
    );
    assert.ok(
      argv.includes(`--metrics_port=${metricsPort}`) && argv.includes(`--address=127.0.0.1:${grpcPort}`) && argv.includes("--metrics_host=127.0.0.1"),
      `ports not found in ${argv.join(" ")}`,
    );

    // The Secrets, where the pod mounts them: TLS folder and admin token.
    const secrets = await makeClusterSecrets({ namespace: cc.w.namespace });
    const tlsDir = flagValue(argv, "tls_dir")!;
    const tokenFile = flagValue(argv, "admin_token_file")!;
    assert.ok(tlsDir?.startsWith(dir) && tokenFile?.startsWith(dir), `credentials not under the moved mounts: ${argv.join(" ")}`);
    const put = (secretName: string, key: string, path: string) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(
        path,
        secretData(
          secrets.secrets.find((o) => o.metadata?.name === secretName)!,
          key,
        )!,
      );
    };
    for (const key of ["tls.crt", "tls.key", "ca.crt"]) put("judge-tls", key, join(tlsDir, key));
    put("admin-token", "token", tokenFile);
    // The orchestrator's certificate, as a client of the judge.
    const clientDir = join(dir, "orchestrator-tls");
    for (const key of ["tls.crt", "tls.key", "ca.crt"]) put("orchestrator-tls", key, join(clientDir, key));

    // A small model where the pod would find JUDGE_MODEL: <repository>/<JUDGE_MODEL>.
    const repository = argv.find((a) => a.startsWith("--model_repository="))!.slice("--model_repository=".length);
    const modelPath = join(repository, cc.env.JUDGE_MODEL!);
    mkdirSync(dirname(modelPath), { recursive: true });
    writeFileSync(
      modelPath,
      randomScorerOnnx(scorerConfig({ n_layer: 1, d_model: 32, n_head: 2, d_ff: 64, seq_len: 16 }), { seed: "1", version: "deploy-check" }),
    );

    assert.equal(argv[0], "node");
    child = spawn(process.execPath, argv.slice(1), { cwd: REPO_ROOT, env: { ...process.env, ...cc.env }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (output += d));
    child.stderr!.on("data", (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((resolve) => child!.on("exit", (code) => resolve(code)));

    const readiness = container(b, "Deployment", "judge").readinessProbe!;
    const probe = healthcheckProbe(readiness);
    assert.ok(probe, "the judge's readiness probe does not run healthcheck.mjs");
    await Promise.race([
      waitForServing(`127.0.0.1:${grpcPort}`, { service: probe.service, timeoutMs: 60_000, security: loadSecurity({ tlsDir: clientDir }) }),
      exited.then((code) => assert.fail(`the judge exited (${code}) before serving:\n${output}`)),
    ]);
    assert.match(output, /model=judge version=deploy-check/, output);
    assert.match(output, /tls=mtls/, output);

    // The readiness probe's own command, run as the kubelet would (script from the checkout).
    const command = readiness.exec!.command!.map((a) =>
      moved(a)
        .replace(/^\/app\//, "")
        .replace(/^127\.0\.0\.1:\d+$/, `127.0.0.1:${grpcPort}`),
    );
    assert.equal(command[0], "node");
    const health = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, command.slice(1), { cwd: REPO_ROOT }, (err, _out, stderr) => resolve({ code: err ? Number(err.code) : 0, stderr })),
    );
    assert.deepEqual(health, { code: 0, stderr: "" }, "the readiness probe's command reports unhealthy");
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /^judge_pending_sequences /m);

    child.kill("SIGTERM");
    assert.equal(await exited, 0, `the judge did not exit cleanly on SIGTERM:\n${output}`);
    child = undefined;
  });
});
