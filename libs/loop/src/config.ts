// The GRPO run configuration: its settings table lives in libs/grpo (GRPO_SETTINGS), shared with
// the policy's TrainParams checks; the loop reads the parsed values.
import { checkValues } from "@grpomesh/config";
import { GRPO_SETTINGS, grpoRelations, type GrpoConfig } from "@grpomesh/grpo/settings";
import { mixSeeds } from "@grpomesh/rng";

export { GRPO_DEFAULTS, GRPO_SETTINGS, grpoRelations, type GrpoConfig } from "@grpomesh/grpo/settings";

/** The seed of a GRPO run's training stream, from the run's seed (the held-out set never depends on it). */
export const grpoDataSeed = (seed: number): number => mixSeeds(seed, "grpo-data");

/** Checks a configuration built in code: every key against its row, then the relations between keys. */
export function checkGrpoConfig(c: GrpoConfig): void {
  checkValues(GRPO_SETTINGS, c, grpoRelations);
}
