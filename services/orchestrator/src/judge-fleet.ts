// The judges as one scorer: a step's B·k sequences are cut into whole-group chunks, spread over
// the replicas and scored concurrently; a chunk that fails or times out is retried on another
// replica with backoff. A reward is never made up: when no replica answers, the step fails loudly.
// A swap loads a model on every replica or on none, within its own deadline, and every judge the
// fleet uses speaks the dataset's vocabulary (ids mean the same tokens everywhere).
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { DataType, JudgeService, type JudgeServiceInfoResponse } from "@grpomesh/proto";
import { createClient, Status, type Client, RpcCallError, type Security } from "@grpomesh/rpc";
import { vocabularyDifference } from "@grpomesh/data";
import { decodeTensor, encodeTensor } from "@grpomesh/tensor";
import type { JudgePort, JudgeScores } from "@grpomesh/loop";

export interface JudgeFleetOptions {
  /** Groups per chunk; 0 = spread the step evenly over the replicas. */
  chunkGroups?: number;
  deadlineMs?: number;
  /** Attempts per chunk across replicas before the step fails. */
  maxAttempts?: number;
  backoffMs?: number;
  log?: (line: string) => void;
  /** TLS (mTLS) and the admin token LoadModel needs, for every replica. Default: plaintext, no token. */
  security?: Security;
  /**
   * The name every replica's certificate carries, when replicas are dialled by address. fromSpec
   * sets it to the Service name of a "dns:///name:port" spec (pods are dialled by IP, which no
   * certificate names).
   */
  tlsServerName?: string;
  /** Longest a swap may hold a step (Info, LoadModel, rolling back), in ms. Default 30000. */
  swapDeadlineMs?: number;
  /** The dataset's vocabulary: swaps and joining replicas whose judge speaks another are refused. */
  vocab?: { vocab: string[]; maskTokenId?: number };
  /** How often a replica that is not admitted (or not yet rolled back) is tried again, in ms. Default 5000. */
  retryMs?: number;
}

export const DEFAULT_SWAP_DEADLINE_MS = 30_000;

export interface ReplicaSwap {
  address: string;
  ok: boolean;
  modelVersion: string;
  error: string;
  loadMs: number;
}

interface Replica {
  target: string;
  client: Client<typeof JudgeService>;
  served: number;
  failures: number;
  /** After a failure the replica gets no new chunks until then (ms since epoch). */
  downUntil: number;
  inFlight: number;
  /** A replica that joined and is not yet known to serve the fleet's model gets no chunks. */
  pending: boolean;
  /** Why it was last kept out, so a standing reason is logged once. */
  keptOutFor?: string;
}

// A LoadModel that failed with one of these did not change the replica; any other failure
// (deadline, connection lost) may still complete there, so the replica is rolled back too.
const LOAD_REFUSED = new Set([
  Status.INVALID_ARGUMENT,
  Status.FAILED_PRECONDITION,
  Status.NOT_FOUND,
  Status.PERMISSION_DENIED,
  Status.UNAUTHENTICATED,
  Status.RESOURCE_EXHAUSTED,
  Status.UNIMPLEMENTED,
  Status.ALREADY_EXISTS,
  Status.OUT_OF_RANGE,
]);

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Where the replicas are: "host:port,host:port" (static), "@path" (a file of addresses, one per
 * line or comma-separated, re-read on refresh: add a line to add a replica), or
 * "dns:///name:port" (every address the name resolves to, re-resolved on refresh: a Kubernetes
 * headless Service).
 */
export async function resolveJudgeTargets(spec: string): Promise<string[]> {
  const trimmed = spec.trim();
  if (trimmed.startsWith("@")) {
    const text = readFileSync(trimmed.slice(1), "utf8");
    return text
      .split("\n")
      .map((line) => line.replace(/#.*/, ""))
      .flatMap((line) => line.split(/[\s,]+/))
      .filter(Boolean);
  }
  const dns = /^dns:\/\/[^/]*\/(.+):(\d+)$/.exec(trimmed);
  if (dns) {
    const [, host, port] = dns as unknown as [string, string, string];
    const addrs = await lookup(host, { all: true });
    return [...new Set(addrs.map((a) => (a.family === 6 ? `[${a.address}]:${port}` : `${a.address}:${port}`)))].sort();
  }
  return trimmed
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

// Errors that another replica (or a later try) may not repeat; bad input would fail everywhere.
const NOT_RETRIABLE = new Set([Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION, Status.RESOURCE_EXHAUSTED, Status.UNIMPLEMENTED]);

export class JudgeFleet implements JudgePort {
  replicas: Replica[] = [];
  private next = 0;
  private readonly opts: Required<Omit<JudgeFleetOptions, "security" | "vocab" | "tlsServerName">> &
    Pick<JudgeFleetOptions, "security" | "vocab" | "tlsServerName">;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** The model the fleet serves: the last successful swap, else the version first seen. */
  private model: { path?: string; version: string } | undefined;

  /** `targets`: one address per replica, e.g. ["127.0.0.1:50061", "127.0.0.1:50062"]. */
  constructor(targets: string[], opts: JudgeFleetOptions = {}) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as JudgeFleetOptions;
    this.opts = {
      chunkGroups: 0,
      deadlineMs: 60_000,
      maxAttempts: 0,
      backoffMs: 200,
      log: () => {},
      swapDeadlineMs: DEFAULT_SWAP_DEADLINE_MS,
      retryMs: 5_000,
      ...given,
    };
    if (!(this.opts.swapDeadlineMs > 0)) throw new Error(`judge swap deadline is ${this.opts.swapDeadlineMs} ms; expected a positive number of ms`);
    this.setTargets(targets);
  }

  /** A fleet over a target spec (see resolveJudgeTargets), re-resolved every `refreshMs` (0 = never). */
  static async fromSpec(spec: string, opts: JudgeFleetOptions & { refreshMs?: number } = {}): Promise<JudgeFleet> {
    const dnsName = /^dns:\/\/[^/]*\/(.+):\d+$/.exec(spec.trim())?.[1];
    const fleet = new JudgeFleet(await resolveJudgeTargets(spec), { ...opts, tlsServerName: opts.tlsServerName || dnsName });
    const dynamic = spec.trim().startsWith("@") || spec.trim().startsWith("dns:");
    if (dynamic && opts.refreshMs && opts.refreshMs > 0) {
      fleet.refreshTimer = setInterval(() => {
        resolveJudgeTargets(spec).then(
          (targets) => targets.length && fleet.setTargets(targets),
          (err: unknown) => fleet.opts.log(`judge targets ${spec} could not be refreshed: ${err instanceof Error ? err.message : String(err)}`),
        );
      }, opts.refreshMs);
      fleet.refreshTimer.unref();
    }
    return fleet;
  }

  /** The name every replica's certificate is checked against (undefined: each replica's address). */
  get tlsServerName(): string | undefined {
    return this.opts.tlsServerName;
  }

  /** Adds replicas that are new and drops those that are gone (their in-flight chunks finish first). */
  setTargets(targets: string[]): void {
    const wanted = [...new Set(targets)];
    if (wanted.length === 0) throw new Error("no judge addresses given; pass at least one (--judges=host:port,host:port)");
    const keep = this.replicas.filter((r) => wanted.includes(r.target));
    for (const gone of this.replicas.filter((r) => !wanted.includes(r.target))) {
      this.opts.log(`judge replica ${gone.target} left the fleet`);
      const close = () => (gone.inFlight > 0 ? setTimeout(close, 100) : gone.client.close());
      close();
    }
    const joining = this.replicas.length > 0;
    for (const target of wanted.filter((t) => !keep.some((r) => r.target === t))) {
      const client = createClient(JudgeService, target, {
        deadlineMs: this.opts.deadlineMs,
        security: this.opts.security,
        tlsServerName: this.opts.tlsServerName,
      });
      const replica: Replica = { target, client, served: 0, failures: 0, downUntil: 0, inFlight: 0, pending: joining };
      keep.push(replica);
      if (joining) {
        this.opts.log(`judge replica ${target} joined the fleet`);
        void this.admit(replica);
      }
    }
    this.replicas = keep;
  }

  /** Why a judge cannot serve this fleet's dataset (startup.ts's words), or null when it speaks its vocabulary. */
  vocabularyProblem(target: string, info: Pick<JudgeServiceInfoResponse, "vocab" | "modelName" | "modelVersion">): string | null {
    if (!this.opts.vocab) return null;
    const difference = vocabularyDifference({ vocab: info.vocab }, this.opts.vocab, {
      model: `judge ${target} (${info.modelName} ${info.modelVersion})`,
      other: "dataset",
    });
    return difference && `${difference}; use a judge trained on this corpus`;
  }

  /** Keeps `replica` out of scoring for `why` (logged when the reason changes) and tries `again` later. */
  private keepOut(replica: Replica, why: string, again: () => Promise<void>): void {
    if (replica.keptOutFor !== why) this.opts.log(why);
    replica.keptOutFor = why;
    replica.pending = true;
    setTimeout(() => void (this.replicas.includes(replica) && again()), this.opts.retryMs).unref();
  }

  /**
   * Lets a replica that joined mid-run take chunks once it serves the fleet's model — loading it
   * there first when the fleet's model came from a swap — so a step never mixes versions, and
   * only if its judge speaks the dataset's vocabulary.
   */
  private async admit(replica: Replica): Promise<void> {
    try {
      let info = await replica.client.info({}, { deadlineMs: 10_000 });
      const want = this.model;
      if (want && info.modelVersion !== want.version) {
        if (!want.path) {
          this.keepOut(
            replica,
            `judge replica ${replica.target} serves ${info.modelVersion}, the fleet serves ${want.version}: kept out until it serves ${want.version}`,
            () => this.admit(replica),
          );
          return;
        }
        const res = await replica.client.loadModel({ path: want.path, version: want.version }, { deadlineMs: this.opts.swapDeadlineMs });
        this.opts.log(`judge replica ${replica.target}: loaded the fleet's model ${res.modelVersion} (was ${info.modelVersion})`);
        info = await replica.client.info({}, { deadlineMs: 10_000 });
      }
      const problem = this.vocabularyProblem(replica.target, info);
      if (problem) {
        this.keepOut(replica, `judge replica ${replica.target} not admitted: ${problem}`, () => this.admit(replica));
        return;
      }
      replica.pending = false;
      replica.keptOutFor = undefined;
    } catch (err) {
      this.keepOut(replica, `judge replica ${replica.target} not admitted yet: ${messageOf(err)}`, () => this.admit(replica));
    }
  }

  /**
   * Loads `model` on a replica whose swap could not be undone within the deadline (its load may
   * still complete there), retrying until it serves it; it takes no chunks until then.
   */
  private async restore(replica: Replica, model: { path: string; version: string }): Promise<void> {
    try {
      await replica.client.loadModel(model, { deadlineMs: Math.max(this.opts.swapDeadlineMs, 120_000) });
      this.opts.log(`judge replica ${replica.target}: rolled back to ${model.version}`);
      replica.pending = false;
      replica.keptOutFor = undefined;
    } catch (err) {
      this.keepOut(replica, `judge replica ${replica.target} not rolled back to ${model.version} yet (kept out of scoring): ${messageOf(err)}`, () =>
        this.restore(replica, model),
      );
    }
  }

  /** Sequences each replica has scored, by address. */
  shares(): Record<string, number> {
    return Object.fromEntries(this.replicas.map((r) => [r.target, r.served]));
  }

  async score(sequences: Int32Array, { count, seqLen, groupSize }: { count: number; seqLen: number; groupSize: number }): Promise<JudgeScores> {
    if (sequences.length !== count * seqLen) throw new Error(`judge fleet got ${sequences.length} tokens for ${count} sequences of ${seqLen}`);
    if (count % groupSize !== 0) throw new Error(`judge fleet got ${count} sequences, not a multiple of the group size ${groupSize}`);
    const groups = count / groupSize;
    const up = this.replicas.filter((r) => !r.pending && r.downUntil <= Date.now()).length || 1;
    const perChunk = this.opts.chunkGroups > 0 ? this.opts.chunkGroups : Math.max(1, Math.ceil(groups / up));
    const scores = new Float32Array(count);
    const groupVersions = new Array<string>(groups);
    const chunks: Array<Promise<void>> = [];
    for (let g0 = 0; g0 < groups; g0 += perChunk) {
      const g1 = Math.min(groups, g0 + perChunk);
      const rows = sequences.subarray(g0 * groupSize * seqLen, g1 * groupSize * seqLen);
      chunks.push(
        this.scoreChunk(rows, (g1 - g0) * groupSize, seqLen).then(({ values, version }) => {
          scores.set(values, g0 * groupSize);
          groupVersions.fill(version, g0, g1);
        }),
      );
    }
    await Promise.all(chunks);
    return { scores, groupVersions };
  }

  /** The next replica in round-robin order that is not cooling down after a failure (any, if all are). */
  private pick(exclude?: Replica): Replica {
    const now = Date.now();
    const ready = this.replicas.filter((r) => !r.pending);
    const pool = ready.length ? ready : this.replicas;
    const n = pool.length;
    for (let i = 0; i < n; i++) {
      const r = pool[this.next++ % n]!;
      if (r.downUntil <= now && (r !== exclude || n === 1)) return r;
    }
    return pool.filter((r) => r !== exclude).sort((a, b) => a.downUntil - b.downUntil)[0] ?? pool[0]!;
  }

  private async scoreChunk(rows: Int32Array, n: number, seqLen: number): Promise<{ values: Float32Array; version: string }> {
    const errors: string[] = [];
    const maxAttempts = this.opts.maxAttempts || Math.max(3, this.replicas.length * 2);
    let last: Replica | undefined;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const replica = this.pick(last);
      last = replica;
      replica.inFlight++;
      try {
        const res = await replica.client.score({ tokens: encodeTensor(rows, [n, seqLen]) });
        const values = decodeTensor(res.scores, { name: "scores", dtype: DataType.FLOAT32, shape: [n] }).values;
        for (let i = 0; i < n; i++) {
          if (!Number.isFinite(values[i]!)) throw new Error(`judge ${replica.target} returned a non-finite score ${values[i]} for sequence ${i}`);
        }
        if (this.model && res.modelVersion !== this.model.version) {
          // A replica that restarted comes back with the model it was started with, not the one a
          // swap gave the fleet: its scores are not used, and it is re-admitted (the fleet's model
          // loaded there) before it takes chunks again.
          replica.pending = true;
          void this.admit(replica);
          throw new Error(
            `judge ${replica.target} serves ${res.modelVersion}, not the fleet's ${this.model.version} (restarted?); its scores are dropped and the fleet's model is loaded there`,
          );
        }
        replica.served += n;
        replica.downUntil = 0;
        this.model ??= { version: res.modelVersion };
        return { values: Float32Array.from(values), version: res.modelVersion };
      } catch (err) {
        replica.failures++;
        replica.downUntil = Date.now() + this.opts.backoffMs * 10;
        const message = err instanceof Error ? err.message : String(err);
        errors.push(`attempt ${attempt + 1} at ${replica.target}: ${message}`);
        if (err instanceof RpcCallError && NOT_RETRIABLE.has(err.code)) break;
        this.opts.log(`judge chunk of ${n} failed at ${replica.target} (${message}); retrying on another replica`);
        await new Promise((r) => setTimeout(r, Math.min(5_000, this.opts.backoffMs * 2 ** Math.floor(attempt / this.replicas.length))));
      } finally {
        replica.inFlight--;
      }
    }
    throw new Error(`no judge replica scored a chunk of ${n} sequences:\n  ${errors.join("\n  ")}`);
  }

  /**
   * Loads a model on every replica at once (between steps, so no step sees two versions). If any
   * replica refuses it — or its judge does not speak the dataset's vocabulary — the replicas that
   * took it are rolled back to the model they had, so the fleet never mixes versions. The whole
   * swap takes at most `swapDeadlineMs` (loads get two thirds of it, rolling back the rest): a
   * replica that cannot be rolled back in time is kept out of scoring and rolled back in the background.
   */
  async swapModel(path: string, version: string): Promise<ReplicaSwap[]> {
    const deadline = Date.now() + this.opts.swapDeadlineMs;
    // Info and LoadModel get two thirds of the deadline; the last third is kept for rolling back.
    const loadDeadline = deadline - this.opts.swapDeadlineMs / 3;
    const left = (until = deadline) => Math.max(1, until - Date.now());
    const replicas = this.replicas.filter((r) => !r.pending);
    const infos = await Promise.allSettled(replicas.map((r) => r.client.info({}, { deadlineMs: left(loadDeadline) })));
    const silent = replicas.filter((_, i) => infos[i]!.status === "rejected").map((r) => r.target);
    if (silent.length > 0) {
      return infos.map((b, i) => ({
        address: replicas[i]!.target,
        ok: false,
        modelVersion: b.status === "fulfilled" ? b.value.modelVersion : "",
        error:
          b.status === "rejected"
            ? `Info failed, nothing was loaded: ${messageOf(b.reason)}`
            : `nothing was loaded: ${silent.join(", ")} did not answer Info within the swap deadline (${this.opts.swapDeadlineMs} ms)`,
        loadMs: 0,
      }));
    }
    const before = infos.map((b) => (b as PromiseFulfilledResult<JudgeServiceInfoResponse>).value);
    const settled = await Promise.allSettled(replicas.map((r) => r.client.loadModel({ path, version }, { deadlineMs: left(loadDeadline) })));
    const results: ReplicaSwap[] = settled.map((s, i) =>
      s.status === "fulfilled"
        ? { address: replicas[i]!.target, ok: true, modelVersion: s.value.modelVersion, error: "", loadMs: s.value.loadMs }
        : { address: replicas[i]!.target, ok: false, modelVersion: before[i]!.modelVersion, error: messageOf(s.reason), loadMs: 0 },
    );
    // Took the new model (true), may still take it (the call failed in transit), or refused it.
    const changed = settled.map((s) => s.status === "fulfilled" || !(s.reason instanceof RpcCallError && LOAD_REFUSED.has(s.reason.code)));
    if (this.opts.vocab) {
      await Promise.all(
        results.map(async (r, i) => {
          if (!r.ok) return;
          try {
            const problem = this.vocabularyProblem(r.address, await replicas[i]!.client.info({}, { deadlineMs: left(loadDeadline) }));
            if (problem) Object.assign(r, { ok: false, error: problem });
          } catch (err) {
            Object.assign(r, { ok: false, error: `its vocabulary could not be checked: ${messageOf(err)}` });
          }
        }),
      );
    }
    const refused = results.filter((r) => !r.ok);
    if (refused.length === 0) {
      for (const [i, r] of results.entries()) this.opts.log(`judge ${r.address}: ${before[i]!.modelVersion} → ${r.modelVersion} (${r.loadMs.toFixed(0)} ms)`);
      this.model = { path, version: results[0]!.modelVersion };
      return results;
    }
    const why = `${refused.map((x) => x.address).join(", ")} refused the new model`;
    await Promise.all(
      results.map(async (r, i) => {
        if (!changed[i]) return;
        const replica = replicas[i]!;
        const old = { path: before[i]!.modelPath, version: before[i]!.modelVersion };
        // What happened here: it took the model and another replica refused, or its own load or check failed.
        const cause = r.ok ? `it loaded ${r.modelVersion} but ${why}` : r.error;
        const inTransit = settled[i]!.status === "rejected";
        Object.assign(r, { ok: false, modelVersion: old.version });
        if (!old.path) {
          r.error = `${cause}; it served no model before the swap, so it is kept out of scoring until it serves the fleet's`;
          replica.pending = true;
          void this.admit(replica);
          return;
        }
        const reason = `${cause}; rolled back to ${old.version}${inTransit ? " in case the load still completes" : ""}`;
        try {
          await replica.client.loadModel(old, { deadlineMs: left() });
          r.error = reason;
        } catch (err) {
          r.error = `${cause}; rolling back to ${old.version} in the background, kept out of scoring until then (${messageOf(err)})`;
          replica.pending = true;
          void this.restore(replica, old);
        }
      }),
    );
    return results;
  }

  close(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    for (const r of this.replicas) r.client.close();
  }
}
