// Test helpers: render the repository's deploy/ once, hand out copies to break, find objects in them.
import assert from "node:assert/strict";
import { cloneBundle, loadBundle, loadFiles, type DeployBundle } from "../bundle.ts";
import type { Container, K8sObject } from "../k8s.ts";
import { kubectl } from "../kustomize.ts";

/**
 * false when kustomize can render here; else why not, with the command that fixes it: the
 * `skip` option of every suite that renders (in CI, setup.mjs fetches kubectl first).
 */
export const RENDER_SKIP: string | false = (() => {
  const k = kubectl();
  return "problem" in k ? k.problem : false;
})();

/** The default run of the overlays, whose objects carry its name (policy-grpo-1, run-config-grpo-1, …). */
export const RUN = "grpo-1";

let cached: DeployBundle | undefined;

/**
 * A fresh copy of the repository's deploy/ bundle as the cpu overlay renders (rendered once per
 * process); without kubectl, its files alone (no objects: the suites that read them skip).
 */
export function bundle(): DeployBundle {
  cached ??= RENDER_SKIP ? loadFiles() : loadBundle();
  return cloneBundle(cached);
}

/** The object kind/name of a bundle (throws when absent, so a renamed manifest fails loudly). */
export function obj(b: DeployBundle, kind: string, name: string): K8sObject {
  const m = b.manifests.find((x) => x.obj.kind === kind && x.obj.metadata?.name === name);
  assert.ok(m, `no ${kind}/${name} in ${b.rendered.join(", ")} (found ${b.manifests.map((x) => `${x.obj.kind}/${x.obj.metadata?.name}`).join(", ")})`);
  return m.obj;
}

/** The first container of a workload's pod template. */
export function container(b: DeployBundle, kind: string, name: string): Container {
  const o = obj(b, kind, name);
  const c = (o.spec?.template?.spec ?? o.spec)?.containers?.[0];
  assert.ok(c, `${kind}/${name} has no container`);
  return c;
}

/** Replaces the argument that starts with `prefix` (e.g. "--judges=") of a workload's first container. */
export function setArg(b: DeployBundle, kind: string, name: string, prefix: string, value: string | null): void {
  const c = container(b, kind, name);
  const args = c.args ?? [];
  const i = args.findIndex((a) => a.startsWith(prefix));
  assert.ok(i >= 0 || value !== null, `${kind}/${name} has no argument ${prefix}`);
  if (value === null) args.splice(i, 1);
  else if (i >= 0) args[i] = value;
  else args.push(value);
  c.args = args;
}

/** Asserts that some problem matches `pattern`, showing them all when none does. */
export function assertProblem(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}; got:\n${problems.join("\n") || "(none)"}`,
  );
}
