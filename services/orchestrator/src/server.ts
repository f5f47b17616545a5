// The orchestrator's own gRPC face: status, pause/resume, judge swaps and checkpoints, each
// applied at a step boundary so no step mixes states.
import { OrchestratorService, RunState } from "@grpomesh/proto";
import { bindService, failedPrecondition, invalidArgument, startServer, type RunningServer } from "@grpomesh/rpc";
import type { GrpoTrainer } from "@grpomesh/loop";
import type { JudgeFleet } from "./judge-fleet.ts";

export interface RunControl {
  trainer: GrpoTrainer;
  judges: JudgeFleet;
  runDir: string;
  state(): RunState;
  error(): string;
  /** True while the loop runs and can take between-step actions. */
  looping(): boolean;
}

export async function startOrchestratorServer(address: string, run: RunControl, onCall?: Parameters<typeof startServer>[0]["onCall"]): Promise<RunningServer> {
  const atBoundary = <T>(action: () => Promise<T>): Promise<T> => (run.looping() ? run.trainer.atNextBoundary(action) : action());
  return startServer({
    address,
    onCall,
    services: [
      bindService(OrchestratorService, {
        status() {
          const r = run.trainer.lastRecord;
          const lastMetrics: Record<string, number> = {};
          if (r) for (const [k, v] of Object.entries(r)) if (typeof v === "number") lastMetrics[k] = v;
          if (run.trainer.lastEval) {
            lastMetrics.eval_mean_reward = run.trainer.lastEval.mean_reward;
            lastMetrics.eval_accuracy = run.trainer.lastEval.accuracy;
          }
          return {
            state: run.state(),
            step: run.trainer.step,
            maxSteps: run.trainer.config.max_iters,
            policyVersion: r?.policy_version ?? 0,
            judgeVersion: run.trainer.lastJudgeVersion,
            lastMetrics,
            runDir: run.runDir,
            error: run.error(),
          };
        },
        pause() {
          if (!run.looping()) throw failedPrecondition(`the run is ${RunState[run.state()]}; only a running loop can pause`);
          run.trainer.pause();
          return { step: run.trainer.step };
        },
        resume() {
          if (!run.trainer.isPaused) throw failedPrecondition("the run is not paused");
          run.trainer.resume();
          return { step: run.trainer.step };
        },
        async swapJudge(req) {
          if (!req.path) throw invalidArgument("path is empty; give the model's path inside the judges' model repository");
          const { replicas, effectiveStep } = await atBoundary(async () => ({
            replicas: await run.judges.swapModel(req.path, req.version),
            effectiveStep: run.trainer.step + 1,
          }));
          if (replicas.some((r) => !r.ok)) {
            throw failedPrecondition(`judge swap refused; every replica keeps its model: ${replicas.map((r) => `${r.address}: ${r.ok ? "ok" : r.error}`).join("; ")}`);
          }
          return { effectiveStep, replicas };
        },
        async checkpoint() {
          const path = await atBoundary(() => run.trainer.checkpoint());
          return { path, step: run.trainer.step };
        },
      }),
    ],
  });
}
