// Which process dies when: a seeded plan of SIGKILLs over a run's steps. Every window of four
// faults kills each role once (in a seeded order), so `--faults=4` covers policy, reference, a judge
// replica and the orchestrator; the moment inside the step after the trigger is seeded too.
import { Rng, mixSeeds } from "@grpomesh/rng";

export type Role = "policy" | "reference" | "judge" | "orchestrator";
export const ROLES: readonly Role[] = ["policy", "reference", "judge", "orchestrator"];

export interface PlannedFault {
  role: Role;
  /** Which judge replica (0-based) for role "judge". */
  replica: number;
  /** The fault fires once the run has logged this step (after any earlier fault was handled)... */
  afterStep: number;
  /** ...plus this fraction of a mean step's time, so it lands anywhere inside the next step. */
  delayFraction: number;
}

export interface PlanOptions {
  seed: number;
  faults: number;
  steps: number;
  judges: number;
  /** Explicit faults, e.g. "judge@3,policy@6" (role@afterStep; judge replica from the seed): replaces the random draw. */
  spec?: string;
}

/** The faults of a chaos run, in the order they fire. */
export function planFaults(opts: PlanOptions): PlannedFault[] {
  const rng = new Rng(mixSeeds(opts.seed, "chaos-plan"));
  if (opts.spec) return parseFaultSpec(opts.spec, opts.steps).map((f) => ({ ...f, replica: rng.nextInt(opts.judges), delayFraction: rng.next() }));
  if (!Number.isInteger(opts.faults) || opts.faults < 0) throw new Error(`--faults=${opts.faults}: expected a whole number ≥ 0`);
  // A fault after the last step would find the run finished; each fault gets a step of its own.
  if (opts.faults > opts.steps - 1)
    throw new Error(
      `--faults=${opts.faults} does not fit in --steps=${opts.steps}: at most steps − 1 = ${opts.steps - 1} faults (one per step before the last); raise --steps or lower --faults`,
    );
  const roles: Role[] = [];
  while (roles.length < opts.faults) roles.push(...rng.shuffle([...ROLES]));
  // Triggers in the first three quarters of the run when they fit there: training goes on while a
  // judge restarts, and a fault planned near the end could find the run already finished.
  const early = Math.floor((opts.steps - 1) * 0.75);
  const span = opts.faults <= early ? early : opts.steps - 1;
  const triggers = rng
    .shuffle(Array.from({ length: span }, (_, i) => i + 1))
    .slice(0, opts.faults)
    .sort((a, b) => a - b);
  return triggers.map((afterStep, i) => ({ role: roles[i]!, replica: rng.nextInt(opts.judges), afterStep, delayFraction: rng.next() }));
}

/** "judge@3,policy@6,orchestrator@9" → faults in step order. */
export function parseFaultSpec(spec: string, steps: number): Array<Pick<PlannedFault, "role" | "afterStep">> {
  const faults = spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const m = /^(\w+)@(\d+)$/.exec(part);
      const role = m?.[1] as Role | undefined;
      const afterStep = Number(m?.[2]);
      if (!m || !ROLES.includes(role!))
        throw new Error(`fault ${JSON.stringify(part.slice(0, 60))}: expected role@step with role one of ${ROLES.join(", ")}, e.g. judge@3`);
      if (afterStep < 1 || afterStep >= steps) throw new Error(`fault ${part}: step ${afterStep} is outside 1..${steps - 1} (a fault needs a step after it)`);
      return { role: role!, afterStep };
    });
  for (let i = 1; i < faults.length; i++) {
    if (faults[i]!.afterStep <= faults[i - 1]!.afterStep) throw new Error(`faults ${spec}: steps must increase (one fault per step, in order)`);
  }
  return faults;
}
