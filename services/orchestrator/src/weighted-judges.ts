// Several named judge fleets as one scorer: every sequence is scored by every fleet at once, and the
// reward is Σ weight·score. Each fleet keeps its own replicas, chunking, retries, refresh,
// vocabulary check and swap; each scores a group with one version, so every group is scored by
// one version of each judge. With one fleet the versions read as before (its plain version).
import type { JudgePort, JudgeScores } from "@grpomesh/loop";
import { JudgeFleet, type JudgeFleetOptions } from "./judge-fleet.ts";
import { parseWeightedSpecs } from "./judge-spec.ts";

export interface NamedFleet {
  name: string;
  weight: number;
  fleet: JudgeFleet;
}

export class WeightedJudges implements JudgePort {
  readonly fleets: readonly NamedFleet[];

  constructor(fleets: NamedFleet[]) {
    if (fleets.length === 0) throw new Error("no judge fleets given; pass at least one (--judges=host:port or name@weight=host:port;…)");
    const names = fleets.map((f) => f.name);
    if (new Set(names).size !== names.length) throw new Error(`judge names must be unique; got ${names.join(", ")}`);
    for (const f of fleets)
      if (!Number.isFinite(f.weight) || f.weight === 0) throw new Error(`judge ${f.name}'s weight is ${f.weight}; expected a finite non-zero number`);
    this.fleets = fleets;
  }

  /** The fleets of a --judges value (judge-spec.ts), each its own JudgeFleet over its SPEC (JudgeFleet.fromSpec) with `opts`. */
  static async fromSpec(text: string, opts: JudgeFleetOptions & { refreshMs?: number } = {}): Promise<WeightedJudges> {
    const fleets: NamedFleet[] = [];
    try {
      const specs = parseWeightedSpecs(text);
      for (const { name, weight, spec } of specs) {
        const log = opts.log;
        // With several judges each fleet's log lines say whose they are.
        const named = log && specs.length > 1 ? (line: string) => log(`[${name}] ${line}`) : log;
        fleets.push({ name, weight, fleet: await JudgeFleet.fromSpec(spec, { ...opts, log: named }) });
      }
    } catch (err) {
      for (const f of fleets) f.fleet.close();
      throw err;
    }
    return new WeightedJudges(fleets);
  }

  get names(): string[] {
    return this.fleets.map((f) => f.name);
  }

  /** The fleet `name` names, or the only one when `name` is empty; otherwise why not (naming the judges), for SwapJudge to answer with. */
  find(name: string): NamedFleet | { error: string; notFound: boolean } {
    const known = this.names.join(", ");
    if (name === "") {
      if (this.fleets.length === 1) return this.fleets[0]!;
      return { error: `there are ${this.fleets.length} judges (${known}); name the one to swap`, notFound: false };
    }
    return this.fleets.find((f) => f.name === name) ?? { error: `no judge named "${name}"; the judges are ${known}`, notFound: true };
  }

  async score(sequences: Int32Array, opts: { count: number; seqLen: number; groupSize: number }): Promise<JudgeScores> {
    const results = await Promise.all(this.fleets.map((f) => f.fleet.score(sequences, opts)));
    const scores = new Float32Array(opts.count);
    const judges: NonNullable<JudgeScores["judges"]> = {};
    for (const [i, { name, weight }] of this.fleets.entries()) {
      const r = results[i]!;
      let sum = 0;
      for (let s = 0; s < opts.count; s++) {
        sum += r.scores[s]!;
        scores[s] = scores[s]! + weight * r.scores[s]!;
      }
      judges[name] = { mean: sum / Math.max(1, opts.count), version: [...new Set(r.groupVersions)].join("+") };
    }
    const single = this.fleets.length === 1;
    const groupVersions = results[0]!.groupVersions.map((_, g) =>
      single ? results[0]!.groupVersions[g]! : this.fleets.map((f, i) => `${f.name}=${results[i]!.groupVersions[g]}`).join(","),
    );
    return { scores, groupVersions, judges };
  }

  close(): void {
    for (const f of this.fleets) f.fleet.close();
  }
}
