// Which execution provider runs each node of a graph. onnxruntime decides this when a session is
// created (a provider takes the nodes it has kernels for; the rest fall back to the CPU provider)
// and reports it only in its verbose log, which goes to the process's stderr. So a short child
// process creates the session with verbose logging and we read its "Node placements" section.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./placement-child.mjs", import.meta.url));

/** onnxruntime's provider class names, as this project names the providers. */
const PROVIDER_NAMES: Record<string, string> = {
  CPUExecutionProvider: "cpu",
  WebGpuExecutionProvider: "webgpu",
  CUDAExecutionProvider: "cuda",
};

export interface PlacedNode {
  op: string;
  name: string;
}

export interface Placement {
  /** Nodes after onnxruntime's graph optimizations, copies between devices included. */
  total: number;
  /** Node count per provider ("cpu", "webgpu", "cuda", or onnxruntime's own name for others). */
  byProvider: Record<string, number>;
  /** The nodes the CPU provider runs, when the graph is split (onnxruntime lists no nodes when one provider takes all). */
  cpuNodes: PlacedNode[];
}

/** Reads onnxruntime's verbose "Node placements" section (session_state.cc). */
export function parsePlacement(log: string): Placement {
  const byProvider: Record<string, number> = {};
  const cpuNodes: PlacedNode[] = [];
  let current: string | null = null;
  let seen = false;
  for (const line of log.split("\n")) {
    const at = line.indexOf("VerifyEachNodeIsAssignedToAnEp]");
    if (at < 0) {
      current = null;
      continue;
    }
    // after the log prefix's "] ": one space before a provider's line, two before each node's
    const text = line.slice(at + "VerifyEachNodeIsAssignedToAnEp] ".length);
    const group = /^ (?:All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(text);
    if (group) {
      seen = true;
      const provider = PROVIDER_NAMES[group[1]!] ?? group[1]!;
      byProvider[provider] = (byProvider[provider] ?? 0) + Number(group[2]);
      current = provider;
      continue;
    }
    const node = /^ {2}(\S+) \((.*)\)\s*$/.exec(text);
    if (node && current === "cpu") cpuNodes.push({ op: node[1]!, name: node[2]! });
    else if (!node) current = null;
  }
  if (!seen) throw new Error("onnxruntime's log has no node placements (it prints them at verbose level when a session is created)");
  const total = Object.values(byProvider).reduce((a, b) => a + b, 0);
  return { total, byProvider, cpuNodes };
}

/** Each graph's placement in one line: "forward: all 118 nodes on webgpu; train: 1 of 508 nodes fell back …". */
export function describePlacements(placements: Readonly<Record<string, Placement>>, provider: string): string {
  return Object.entries(placements)
    .map(([graph, p]) => `${graph}: ${describePlacement(p, provider)}`)
    .join("; ");
}

/** "all 140 nodes on webgpu" or "3 of 509 nodes fell back to the CPU provider (LogSoftmax, OneHot, Reshape)". */
export function describePlacement(p: Placement, provider: string): string {
  const cpu = p.byProvider.cpu ?? 0;
  if (provider === "cpu") return `all ${p.total} nodes on cpu`;
  if (cpu === 0) return `all ${p.total} nodes on ${provider}`;
  const ops = new Map<string, number>();
  for (const n of p.cpuNodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
  const list = [...ops].sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => (n > 1 ? `${op}×${n}` : op));
  return `${cpu} of ${p.total} nodes fell back to the CPU provider (${list.join(", ")})`;
}

export interface PlacementOptions {
  /** Session option of the sessions that will run the graph (default "all", as the engines use). */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  timeoutMs?: number;
}

/** Where onnxruntime places each node of `model` for these providers (a child process; ≈ 0.3–1 s). */
export async function graphPlacement(model: Uint8Array, providers: readonly string[], opts: PlacementOptions = {}): Promise<Placement> {
  const dir = await mkdtemp(join(tmpdir(), "grpomesh-placement-"));
  const path = join(dir, "model.onnx");
  try {
    await writeFile(path, model);
    const log = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [CHILD, path, JSON.stringify(providers), JSON.stringify({ graphOptimizationLevel: opts.graphOptimizationLevel ?? "all" })],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const chunks: Buffer[] = [];
      child.stdout.on("data", (c: Buffer) => chunks.push(c));
      child.stderr.on("data", (c: Buffer) => chunks.push(c));
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        const out = Buffer.concat(chunks).toString("utf8");
        if (code === 0) resolve(out);
        else {
          const tail = out.trim().split("\n").slice(-5).join("\n");
          reject(new Error(`the placement check's onnxruntime session failed (${signal ?? `exit code ${code}`}): ${tail}`));
        }
      });
    });
    return parsePlacement(log);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
