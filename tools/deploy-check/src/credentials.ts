// Credentials in the pod templates: every service container given a TLS folder and the admin token
// from read-only Secret volumes; probes that speak TLS.
import { existsSync } from "node:fs";
import { join, posix } from "node:path";
import type { DeployBundle } from "./bundle.ts";
import type { Container, Probe } from "./k8s.ts";
import { APP_DIR, containerCommands, volumeAt } from "./services.ts";

/** The value of the first flag spelt `--a_b=` or `--a-b=`. */
export function flagValue(flags: string[], name: string): string | undefined {
  const re = new RegExp(`^--${name.replace(/[_-]/g, "[_-]")}=(.*)$`);
  for (const f of flags) {
    const m = re.exec(f);
    if (m) return m[1];
  }
  return undefined;
}

const HEALTHCHECK = "deploy/images/healthcheck.mjs";

/** An exec probe that runs healthcheck.mjs: its target, service, deadline and --tls_dir. */
export function healthcheckProbe(probe: Probe): { script: string; target: string; service: string; deadlineMs: number; tlsDir?: string } | undefined {
  const cmd = probe.exec?.command ?? [];
  const i = cmd.findIndex((a) => a.endsWith(HEALTHCHECK));
  if (i < 0) return undefined;
  const rest = cmd.slice(i + 1);
  const positional = rest.filter((a) => !a.startsWith("--"));
  return {
    script: cmd[i]!,
    target: positional[0] ?? "127.0.0.1:50051",
    service: positional[1] ?? "",
    deadlineMs: Number(positional[2] ?? 3000),
    tlsDir: flagValue(rest, "tls_dir"),
  };
}

const PROBES = ["startupProbe", "readinessProbe", "livenessProbe"] as const;

function checkProbes(bundle: DeployBundle, c: Container, at: string, tlsDir: string | undefined): string[] {
  const problems: string[] = [];
  const grpcPort = (c.ports ?? []).find((p) => p.name === "grpc")?.containerPort;
  for (const kind of PROBES) {
    const probe = c[kind];
    if (!probe) continue;
    if (probe.grpc && tlsDir) {
      problems.push(
        `${at}: ${kind} is a gRPC probe, but the service serves TLS (--tls_dir) and the kubelet's gRPC probes speak plaintext only; run ${HEALTHCHECK} with --tls_dir as an exec probe`,
      );
      continue;
    }
    const hc = probe.exec ? healthcheckProbe(probe) : undefined;
    if (!hc) continue;
    const rel = hc.script.startsWith("/") ? posix.relative(APP_DIR, hc.script) : hc.script;
    if (!existsSync(join(bundle.root, rel))) problems.push(`${at}: ${kind} runs ${hc.script}, which is not ${APP_DIR}/${HEALTHCHECK} in the image`);
    const port = Number(hc.target.split(":").at(-1));
    if (!/^(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(hc.target))
      problems.push(`${at}: ${kind} checks ${hc.target}; probe the container's own port over loopback (127.0.0.1), which its certificate names`);
    if (port !== grpcPort) problems.push(`${at}: ${kind} checks port ${port}; the container's grpc port is ${grpcPort ?? "(none)"}`);
    if ((hc.tlsDir ?? "") !== (tlsDir ?? ""))
      problems.push(
        `${at}: ${kind} runs ${HEALTHCHECK} with --tls_dir=${hc.tlsDir ?? "(none)"}; the service's is ${tlsDir ?? "(none)"}, so the probe could not complete a handshake`,
      );
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    if (!(hc.deadlineMs > 0) || timeoutMs <= hc.deadlineMs)
      problems.push(
        `${at}: ${kind} gives the check a ${hc.deadlineMs} ms deadline but times the probe out after ${timeoutMs} ms; set timeoutSeconds above the deadline (node starts in the probe too)`,
      );
  }
  return problems;
}

/**
 * Every service container: --tls_dir is the mount path of a read-only Secret
 * volume holding tls.crt, tls.key and ca.crt; --admin_token_file is
 * a file of a read-only Secret volume; every service uses the same admin-token Secret; probes
 * speak TLS with the same folder.
 */
export function checkCredentials(bundle: DeployBundle): string[] {
  const problems: string[] = [];
  const tokenSecrets = new Map<string, string>();
  for (const cc of containerCommands(bundle)) {
    if (!cc.service) continue;
    const at = cc.at;
    const tlsDir = flagValue(cc.flags, "tls_dir");
    if (!tlsDir) problems.push(`${at}: no --tls_dir; the service would serve plaintext gRPC`);
    else {
      const { volume, mount } = volumeAt(cc, tlsDir);
      if (!volume?.secret)
        problems.push(`${at}: --tls_dir=${tlsDir} is not on a Secret volume (mounts: ${(cc.container.volumeMounts ?? []).map((m) => m.mountPath).join(", ")})`);
      else {
        if (mount?.mountPath !== tlsDir.replace(/\/$/, ""))
          problems.push(
            `${at}: --tls_dir=${tlsDir} is inside Secret volume ${volume.name} at ${mount?.mountPath}; point it at the mount path, where tls.crt, tls.key and ca.crt are`,
          );
        if (!mount?.readOnly) problems.push(`${at}: Secret volume ${volume.name} (TLS) is mounted without readOnly: true`);
        const items = volume.secret.items;
        if (items && !["tls.crt", "tls.key", "ca.crt"].every((f) => items.some((i) => i.path === f))) {
          problems.push(`${at}: Secret volume ${volume.name} maps only ${items.map((i) => i.path).join(", ")}; --tls_dir needs tls.crt, tls.key and ca.crt`);
        }
      }
    }
    const tokenFile = flagValue(cc.flags, "admin_token_file");
    if (!tokenFile)
      problems.push(
        `${at}: no --admin_token_file; its state-changing RPCs would refuse everyone${cc.service === "orchestrator" ? ", and it could not call the others'" : ""}`,
      );
    else {
      const { volume, mount } = volumeAt(cc, tokenFile);
      if (!volume?.secret) problems.push(`${at}: --admin_token_file=${tokenFile} is not on a Secret volume`);
      else {
        if (!mount?.readOnly) problems.push(`${at}: Secret volume ${volume.name} (admin token) is mounted without readOnly: true`);
        const rel = posix.relative(mount!.mountPath!, tokenFile);
        const items = volume.secret.items;
        if (items && !items.some((i) => i.path === rel))
          problems.push(`${at}: --admin_token_file=${tokenFile}: Secret volume ${volume.name} maps ${items.map((i) => i.path).join(", ")}, not ${rel}`);
        tokenSecrets.set(at, volume.secret.secretName ?? "");
      }
    }
    problems.push(...checkProbes(bundle, cc.container, at, tlsDir));
  }
  if (new Set(tokenSecrets.values()).size > 1) {
    problems.push(
      `the services read their admin token from different Secrets (${[...tokenSecrets].map(([at, s]) => `${at}: ${s}`).join("; ")}); the orchestrator sends one token to all of them`,
    );
  }
  return problems;
}
