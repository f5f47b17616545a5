// Several named judges with weights in one setting: "rule@1=host:port;solved@0.5=@file" (the
// orchestrator's --judges, where each SPEC says where one fleet's replicas are) or
// "rule@1=models/rule.onnx;solved=models/solved.onnx" (npm start's --judge_model, where each is a
// model file). The one parser of that syntax; a light module (settings tables import it).

/** One judge: its name (in step records, /metrics and SwapJudge), its weight in the reward, and its spec. */
export interface WeightedSpec {
  name: string;
  weight: number;
  spec: string;
}

/** The name a plain SPEC (no "name=") gets: today's single judge. */
export const DEFAULT_JUDGE_NAME = "judge";

export const JUDGE_NAME = /^[a-z0-9_-]{1,32}$/;

export const JUDGE_SPEC_SYNTAX = 'judges separated by ";", each "name@weight=SPEC", "name=SPEC" (weight 1) or a plain SPEC (one judge named "judge", weight 1)';

// A named part: a name (anything up to "@" or "="), an optional "@weight", then "=" and the spec.
// A plain spec never starts that way: "@file" starts with "@", "host:port" and "dns:///…" hold ":"
// before any "=".
const NAMED = /^([^=@:/,\s]+)(?:@([^=]*))?=(.*)$/s;

/**
 * Parses `text` into its judges, or throws an Error saying which part is wrong and why. Names are
 * [a-z0-9_-]{1,32} and unique; weights are finite and non-zero (a negative weight subtracts that
 * judge's score: a penalty). An empty SPEC is refused.
 */
export function parseWeightedSpecs(text: string): WeightedSpec[] {
  const parts = text.split(";").map((p) => p.trim());
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  const specs: WeightedSpec[] = [];
  for (const [i, part] of parts.entries()) {
    const where = parts.length > 1 ? `judge ${i + 1} ("${part.length > 60 ? `${part.slice(0, 60)}…` : part}")` : "the judge";
    if (part === "") throw new Error(`${where} is empty; ${JUDGE_SPEC_SYNTAX}`);
    const m = NAMED.exec(part);
    const [name, weightText, spec] = m ? [m[1]!, m[2], m[3]!.trim()] : [DEFAULT_JUDGE_NAME, undefined, part];
    if (!JUDGE_NAME.test(name)) throw new Error(`${where}: name "${name}" is not 1 to 32 of a-z, 0-9, "_" and "-"`);
    let weight = 1;
    if (weightText !== undefined) {
      weight = weightText.trim() === "" ? NaN : Number(weightText);
      if (!Number.isFinite(weight)) throw new Error(`${where}: weight "${weightText}" is not a finite number (like 1, 0.5 or -2)`);
      if (weight === 0) throw new Error(`${where}: weight is 0; a judge that counts for nothing is left out instead`);
    }
    if (spec === "") throw new Error(`${where}: nothing after "="; give where the judge is`);
    if (specs.some((s) => s.name === name))
      throw new Error(`${where}: the name "${name}" is used twice${m ? "" : ` (a plain spec is named "${DEFAULT_JUDGE_NAME}")`}; names must be unique`);
    specs.push({ name, weight, spec });
  }
  return specs;
}

/** Why `text` is not a valid judge list (for a setting's refine), or undefined. */
export function weightedSpecsProblem(text: string): string | undefined {
  try {
    parseWeightedSpecs(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The text form of `specs`: a lone judge named "judge" with weight 1 is its plain spec, as before. */
export function formatWeightedSpecs(specs: readonly WeightedSpec[]): string {
  if (specs.length === 1 && specs[0]!.name === DEFAULT_JUDGE_NAME && specs[0]!.weight === 1) return specs[0]!.spec;
  return specs.map((s) => `${s.name}${s.weight === 1 ? "" : `@${s.weight}`}=${s.spec}`).join(";");
}
