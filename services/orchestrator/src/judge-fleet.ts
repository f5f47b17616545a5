// The judges as one scorer: a step's B·k sequences are cut into whole-group chunks, spread over
// the replicas and scored concurrently; a chunk that fails or times out is retried on another
// replica with backoff. A reward is never made up: when no replica answers, the step fails loudly.
import { DataType, JudgeService } from "@grpomesh/proto";
import { createClient, Status, type Client, RpcCallError } from "@grpomesh/rpc";
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
}

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
}

// Errors that another replica (or a later try) may not repeat; bad input would fail everywhere.
const NOT_RETRIABLE = new Set([Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION, Status.RESOURCE_EXHAUSTED, Status.UNIMPLEMENTED]);

export class JudgeFleet implements JudgePort {
  readonly replicas: Replica[];
  private next = 0;
  private readonly opts: Required<JudgeFleetOptions>;

  /**
   * `targets`: one address per replica ("127.0.0.1:50061"), or one "dns:///judge-headless:50051"
   * target that a round_robin channel spreads over every address it resolves to.
   */
  constructor(targets: string[], opts: JudgeFleetOptions = {}) {
    if (targets.length === 0) throw new Error("no judge addresses given; pass at least one (--judges=host:port,host:port)");
    this.opts = { chunkGroups: 0, deadlineMs: 60_000, maxAttempts: Math.max(3, targets.length * 2), backoffMs: 200, log: () => {}, ...opts };
    this.replicas = targets.map((target) => ({
      target,
      client: createClient(JudgeService, target, { loadBalancing: "round_robin", deadlineMs: this.opts.deadlineMs }),
      served: 0,
      failures: 0,
    }));
  }

  async score(sequences: Int32Array, { count, seqLen, groupSize }: { count: number; seqLen: number; groupSize: number }): Promise<JudgeScores> {
    if (sequences.length !== count * seqLen) throw new Error(`judge fleet got ${sequences.length} tokens for ${count} sequences of ${seqLen}`);
    if (count % groupSize !== 0) throw new Error(`judge fleet got ${count} sequences, not a multiple of the group size ${groupSize}`);
    const groups = count / groupSize;
    const perChunk = this.opts.chunkGroups > 0 ? this.opts.chunkGroups : Math.max(1, Math.ceil(groups / this.replicas.length));
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

  private async scoreChunk(rows: Int32Array, n: number, seqLen: number): Promise<{ values: Float32Array; version: string }> {
    const errors: string[] = [];
    const start = this.next++ % this.replicas.length;
    for (let attempt = 0; attempt < this.opts.maxAttempts; attempt++) {
      const replica = this.replicas[(start + attempt) % this.replicas.length]!;
      try {
        const res = await replica.client.score({ tokens: encodeTensor(rows, [n, seqLen]) });
        const values = decodeTensor(res.scores, { name: "scores", dtype: DataType.FLOAT32, shape: [n] }).values;
        for (let i = 0; i < n; i++) {
          if (!Number.isFinite(values[i]!)) throw new Error(`judge ${replica.target} returned a non-finite score ${values[i]} for sequence ${i}`);
        }
        replica.served += n;
        return { values: Float32Array.from(values), version: res.modelVersion };
      } catch (err) {
        replica.failures++;
        const message = err instanceof Error ? err.message : String(err);
        errors.push(`attempt ${attempt + 1} at ${replica.target}: ${message}`);
        if (err instanceof RpcCallError && NOT_RETRIABLE.has(err.code)) break;
        this.opts.log(`judge chunk of ${n} failed at ${replica.target} (${message}); retrying on another replica`);
        await new Promise((r) => setTimeout(r, Math.min(5_000, this.opts.backoffMs * 2 ** Math.floor(attempt / this.replicas.length))));
      }
    }
    throw new Error(`no judge replica scored a chunk of ${n} sequences:\n  ${errors.join("\n  ")}`);
  }

  /**
   * Loads a model on every replica, one after another. If any replica refuses it, the replicas
   * already switched are rolled back to the model they had, so the fleet never mixes versions.
   */
  async swapModel(path: string, version: string): Promise<ReplicaSwap[]> {
    const before = await Promise.all(this.replicas.map((r) => r.client.info({})));
    const results: ReplicaSwap[] = [];
    for (const [i, replica] of this.replicas.entries()) {
      try {
        const res = await replica.client.loadModel({ path, version }, { deadlineMs: 120_000 });
        results.push({ address: replica.target, ok: true, modelVersion: res.modelVersion, error: "", loadMs: res.loadMs });
        this.opts.log(`judge ${replica.target}: ${before[i]!.modelVersion} → ${res.modelVersion} (${res.loadMs.toFixed(0)} ms)`);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        results.push({ address: replica.target, ok: false, modelVersion: before[i]!.modelVersion, error, loadMs: 0 });
        for (const [j, done] of results.entries()) {
          if (!done.ok || j === i) continue;
          const prev = before[j]!;
          await this.replicas[j]!.client.loadModel({ path: prev.modelPath, version: prev.modelVersion }, { deadlineMs: 120_000 });
          done.ok = false;
          done.modelVersion = prev.modelVersion;
          done.error = `rolled back to ${prev.modelVersion} because ${replica.target} refused the new model`;
        }
        break;
      }
    }
    return results;
  }

  close(): void {
    for (const r of this.replicas) r.client.close();
  }
}
