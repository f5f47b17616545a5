// The orchestrator's settings: the GRPO run's (libs/grpo) plus where the other roles are and where
// the run lives. ORCHESTRATOR_* environment variables, the JSON file (--config=run.json), then
// --key=value flags. A light module: `npm start` parses it before any service is spawned.
import { setting, z, type Values } from "@grpomesh/config";
import { GRPO_SETTINGS, grpoRelations } from "@grpomesh/grpo/settings";
import { serviceSettings } from "@grpomesh/rpc/settings";
import { TASK_SETTINGS } from "@grpomesh/tasks/settings";
import { weightedSpecsProblem } from "./judge-spec.ts";

export * from "./judge-spec.ts";

const target = (def: string, what: string) => setting(z.string().min(1), def, `${what}'s gRPC address host:port`);
// Several runs in one namespace dial their own Services (policy-<run>) but share each role's
// certificate, which names the role's Service (policy): the name to check is then not the host.
const tlsName = (what: string, otherwise: string) =>
  setting(
    z.string().regex(/^$|^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, "a DNS name"),
    "",
    `the name ${what}'s TLS certificate must carry, when it is not the host dialled (a run's own Service in front of a role's shared certificate); empty: ${otherwise}`,
  );
const ms = (min: number, def: number, doc: string) => setting(z.int().min(min), def, doc);

export const ORCHESTRATOR_SETTINGS = {
  ...GRPO_SETTINGS,
  // --- where the roles are ---
  policy: target("127.0.0.1:50071", "the policy"),
  reference: target("127.0.0.1:50072", "the reference"),
  policy_tls_name: tlsName("the policy", "the host of --policy"),
  reference_tls_name: tlsName("the reference", "the host of --reference"),
  judges: setting(
    z.string().superRefine((text, ctx) => {
      const problem = weightedSpecsProblem(text);
      if (problem) ctx.addIssue({ code: "custom", message: `judge fleets "name@weight=SPEC;name=SPEC" or one SPEC (${problem})` });
    }),
    "127.0.0.1:50061",
    'judge fleets, the reward their weighted sum: "name@weight=SPEC;name=SPEC" or one SPEC (named judge, weight 1); ' +
      'a SPEC is "host:port,host:port", "@file" (addresses, re-read) or "dns:///service:port" (re-resolved); weights are non-zero, negative ones subtract',
  ),
  judges_tls_name: tlsName("every judge", 'the Service name of a "dns:///" SPEC, else each address'),
  judges_refresh_ms: ms(0, 5_000, 'how often "@file" and "dns:///" judge targets are re-read, so replicas can join and leave (ms); 0: never'),
  judge_chunk_groups: ms(0, 0, "groups per Score request to a judge replica; 0: the batch split evenly over the replicas"),
  judge_deadline_ms: ms(1, 60_000, "deadline of one Score request (ms)"),
  judge_swap_deadline_ms: ms(1, 30_000, "longest a SwapJudge may hold the loop at a step boundary (load on every replica, or roll back) (ms)"),
  // --- this service (the client side of the credentials too: certificate for policy, reference and judges) ---
  ...serviceSettings("127.0.0.1:50070", "off"),
  // --- the run ---
  ...TASK_SETTINGS,
  run_dir: setting(z.string(), "", "run directory (log.jsonl, config.json, checkpoints/); empty: runs/<date-time>"),
  resume: setting(z.boolean(), false, "continue the run in run_dir from its latest checkpoint, with its saved configuration"),
  progress: setting(z.enum(["auto", "line", "log"]), "auto", "line: one rewritten line; log: a line every log_every steps; auto: line on a terminal"),
  log_every: setting(z.int().min(1), 10, "steps between progress lines in log mode"),
  strict: setting(z.boolean(), true, "stop (exit non-zero) instead of only warning when a start-up check finds a mismatch it can survive"),
};

export type OrchestratorConfig = Values<typeof ORCHESTRATOR_SETTINGS>;
export const ORCHESTRATOR_ENV_PREFIX = "ORCHESTRATOR_";
export const orchestratorRelations = grpoRelations as (c: OrchestratorConfig) => string[];
