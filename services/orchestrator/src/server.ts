// The orchestrator's own gRPC face: status, pause/resume, judge swaps and checkpoints, each
// applied at a step boundary so no step mixes states. Pause, Resume, SwapJudge and Checkpoint
// change the run: they need the admin credential (libs/rpc refuses them without it).
import { OrchestratorService, RunState } from "@grpomesh/proto";
import {
  bindService,
  checkPathField,
  echo,
  failedPrecondition,
  invalidArgument,
  notFound,
  startServer,
  type RunningServer,
  type Security,
} from "@grpomesh/rpc";
import type { GrpoTrainer } from "@grpomesh/loop";
import type { WeightedJudges } from "./weighted-judges.ts";

export interface RunControl {
  trainer: GrpoTrainer;
  judges: Pick<WeightedJudges, "find" | "fleets">;
  runDir: string;
  state(): RunState;
  error(): string;
  /** True while the loop runs and can take between-step actions. */
  looping(): boolean;
}

/** Longest version label a SwapJudge may ask for. */
const MAX_VERSION_BYTES = 256;
/** Longest judge name a SwapJudge may give (names are at most 32 characters). */
const MAX_JUDGE_NAME_BYTES = 64;

export const ORCHESTRATOR_ADMIN_METHODS = ["Pause", "Resume", "SwapJudge", "Checkpoint"] as const;

export interface OrchestratorServerOptions {
  onCall?: Parameters<typeof startServer>[0]["onCall"];
  security?: Security;
}

export async function startOrchestratorServer(address: string, run: RunControl, opts: OrchestratorServerOptions = {}): Promise<RunningServer> {
  const atBoundary = <T>(action: () => Promise<T>): Promise<T> => (run.looping() ? run.trainer.atNextBoundary(action) : action());
  return startServer({
    address,
    onCall: opts.onCall,
    security: opts.security,
    services: [
      bindService(
        OrchestratorService,
        {
          status() {
            const r = run.trainer.lastRecord;
            const lastMetrics: Record<string, number> = {};
            if (r) for (const [k, v] of Object.entries(r)) if (typeof v === "number") lastMetrics[k] = v;
            if (run.trainer.lastEval) {
              lastMetrics.eval_mean_reward = run.trainer.lastEval.mean_reward;
              lastMetrics.eval_accuracy = run.trainer.lastEval.accuracy;
            }
            // A running loop that a Pause stopped at a step boundary is PAUSED until Resume.
            const state = run.state() === RunState.RUNNING && run.trainer.isParked ? RunState.PAUSED : run.state();
            return {
              state,
              step: run.trainer.step,
              maxSteps: run.trainer.config.max_iters,
              policyVersion: r?.policy_version ?? 0,
              judgeVersion: run.trainer.lastJudgeVersion,
              lastMetrics,
              runDir: run.runDir,
              error: run.error(),
              judges: run.judges.fleets.map(({ name, weight, fleet }) => ({
                name,
                weight,
                version: r?.judge_versions?.[name] ?? (run.judges.fleets.length === 1 ? run.trainer.lastJudgeVersion : ""),
                meanReward: r?.judge_rewards?.[name] ?? 0,
                replicas: fleet.replicas.map((x) => x.target),
              })),
            };
          },
          async pause() {
            if (!run.looping()) throw failedPrecondition(`the run is ${RunState[run.state()]}; only a running loop can pause`);
            // Answers once the loop has stopped at the boundary, with the last step applied: a step
            // in flight when Pause arrives finishes (and counts) first.
            return { step: await run.trainer.pause() };
          },
          resume() {
            if (!run.trainer.isPaused) throw failedPrecondition("the run is not paused");
            run.trainer.resume();
            return { step: run.trainer.step };
          },
          async swapJudge(req) {
            checkPathField(req.path, "path");
            if (Buffer.byteLength(req.version, "utf8") > MAX_VERSION_BYTES) {
              throw invalidArgument(
                `version ${echo(req.version, 80)} is ${Buffer.byteLength(req.version, "utf8")} bytes; expected a label of at most ${MAX_VERSION_BYTES} (or empty: the judge names it)`,
              );
            }
            if (Buffer.byteLength(req.judge, "utf8") > MAX_JUDGE_NAME_BYTES)
              throw invalidArgument(
                `judge ${echo(req.judge, 80)} is longer than ${MAX_JUDGE_NAME_BYTES} bytes; expected one of ${run.judges.fleets.map((f) => f.name).join(", ")}`,
              );
            const found = run.judges.find(req.judge);
            if ("error" in found) throw found.notFound ? notFound(found.error) : invalidArgument(found.error);
            // The fleet bounds how long the swap holds the loop (judge_swap_deadline_ms); the other fleets keep their models.
            const { replicas, effectiveStep } = await atBoundary(async () => ({
              replicas: await found.fleet.swapModel(req.path, req.version),
              effectiveStep: run.trainer.step + 1,
            }));
            if (replicas.some((r) => !r.ok)) {
              throw failedPrecondition(
                `judge ${found.name} swap refused; every replica keeps its model: ${replicas.map((r) => `${r.address}: ${r.ok ? "ok" : r.error}`).join("; ")}`,
              );
            }
            return { effectiveStep, replicas };
          },
          async checkpoint() {
            const path = await atBoundary(() => run.trainer.checkpoint());
            return { path, step: run.trainer.step };
          },
        },
        ORCHESTRATOR_ADMIN_METHODS,
      ),
    ],
  });
}
