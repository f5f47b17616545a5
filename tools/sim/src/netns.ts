// The "hosts" of `npm run sim`: Linux network namespaces made for one simulation and removed after
// it. Layout 2host: a training host (policy, reference, orchestrator) and a judge host, joined by
// one veth pair (10.77.0.1 ↔ 10.77.0.2, a /24 of their own), optionally pinned to one core each
// (taskset) and with the link's bandwidth limited by `tc … tbf` on both ends. Layout 1host: one
// namespace with only its loopback, every role on every core (the baseline of "roles share the
// machine"). Nothing is added to the namespace this process runs in, so no traffic leaves the
// namespaces made here.
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";

export const NETNS_PREFIX = "gmsim-";

export interface SimHost {
  /** Its role in the layout: "train" or "judges" (one host for both in 1host). */
  name: string;
  ns: string;
  /** The address the other host reaches it at; 127.0.0.1 when nothing else does. */
  ip: string;
  /** Cores it is pinned to (taskset -c), or null. */
  cpus: string | null;
}

export interface NetworkOptions {
  layout: "2host" | "2host-split" | "1host";
  /** A tc rate ("1gbit", "100mbit") for the link, or null for none. */
  bandwidth: string | null;
  /** Pin each host to its own core (2host, at least 2 cores). */
  pin: boolean;
  /** Distinguishes this simulation's namespaces from another's; default this process's pid. */
  tag?: string;
}

/** Runs `ip`/`tc`; a failure names the command and what it printed. */
function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${(e.stderr || e.message).trim().slice(0, 400)}`);
  }
}

/** Why this machine cannot make the hosts (not root, no iproute2), or null. */
export function networkProblem(): string | null {
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "npm run sim makes network namespaces and links, which only root may: run it as root (sudo npm run sim -- …)";
  for (const tool of ["ip", "tc", "taskset"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `${tool} is not installed (Debian: apt-get install -y ${tool === "taskset" ? "util-linux" : "iproute2"})`;
    }
  }
  return null;
}

/** Why namespaces cannot be made here even as root (a container without CAP_NET_ADMIN), or null: one is made and removed to find out. */
export function namespaceProblem(): string | null {
  const probe = `${NETNS_PREFIX}${process.pid}-probe`;
  try {
    run("ip", ["netns", "add", probe]);
    run("ip", ["netns", "del", probe]);
    return null;
  } catch (err) {
    return `network namespaces cannot be made here: ${(err as Error).message}`;
  }
}

/** The rate in bytes per second of a tc rate such as "1gbit", "100mbit", "500kbit". */
export function rateBytesPerSecond(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/.exec(rate);
  if (!m) throw new Error(`bandwidth ${JSON.stringify(rate.slice(0, 40))} is not a tc rate like 1gbit, 100mbit or 500kbit`);
  return (Number(m[1]) * { "": 1, k: 1e3, m: 1e6, g: 1e9 }[m[2] ?? ""]!) / 8;
}

export class Network {
  private constructor(
    readonly hosts: { train: SimHost; judges: SimHost },
    private readonly namespaces: string[],
  ) {}

  static create(o: NetworkOptions): Network {
    const problem = networkProblem();
    if (problem) throw new Error(problem);
    const tag = o.tag ?? String(process.pid);
    const made: string[] = [];
    const ns = (name: string) => {
      const full = `${NETNS_PREFIX}${tag}-${name}`;
      run("ip", ["netns", "add", full]);
      made.push(full);
      run("ip", ["-n", full, "link", "set", "lo", "up"]);
      return full;
    };
    try {
      if (o.layout === "1host") {
        const host = ns("host");
        const h = { name: "host", ns: host, ip: "127.0.0.1", cpus: null };
        return new Network({ train: { ...h, name: "train" }, judges: { ...h, name: "judges" } }, made);
      }
      const cores = availableParallelism();
      const pin = o.pin && cores >= 2;
      const train = ns("train");
      const judges = ns("judges");
      const [a, b] = [`gms${tag}t`.slice(0, 15), `gms${tag}j`.slice(0, 15)];
      run("ip", ["link", "add", a, "netns", train, "type", "veth", "peer", "name", b, "netns", judges]);
      const ends: Array<[string, string, string]> = [
        [train, a, "10.77.0.1/24"],
        [judges, b, "10.77.0.2/24"],
      ];
      for (const [n, dev, addr] of ends) {
        run("ip", ["-n", n, "addr", "add", addr, "dev", dev]);
        run("ip", ["-n", n, "link", "set", dev, "up"]);
        if (o.bandwidth) {
          // a bucket of ≥ 1/100 s of traffic (and ≥ 64 KiB), so the rate is reached with the kernel's timer
          const burst = Math.max(65536, Math.ceil(rateBytesPerSecond(o.bandwidth) / 100));
          run("ip", ["netns", "exec", n, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", o.bandwidth, "burst", String(burst), "latency", "50ms"]);
        }
      }
      return new Network(
        {
          train: { name: "train", ns: train, ip: "10.77.0.1", cpus: pin ? "0" : null },
          judges: { name: "judges", ns: judges, ip: "10.77.0.2", cpus: pin ? "1" : null },
        },
        made,
      );
    } catch (err) {
      removeNamespaces(made);
      throw err;
    }
  }

  /** The command prefix that runs a program on `host`: in its namespace, on its cores. */
  wrap(host: SimHost): string[] {
    return ["ip", "netns", "exec", host.ns, ...(host.cpus !== null ? ["taskset", "-c", host.cpus] : [])];
  }

  /** What was made, for the console. */
  describe(referenceWithJudges = false): string {
    const { train, judges } = this.hosts;
    if (train.ns === judges.ns) return `one host: namespace ${train.ns}, loopback only, every core`;
    const h = (x: SimHost, roles: string) => `${x.name} ${x.ip} (${roles}; namespace ${x.ns}${x.cpus !== null ? `, core ${x.cpus}` : ""})`;
    return `${h(train, referenceWithJudges ? "policy, orchestrator" : "policy, reference, orchestrator")} ↔ ${h(judges, referenceWithJudges ? "judges, reference" : "judges")}`;
  }

  /** Removes the namespaces (their links and qdiscs go with them). Safe to call twice. */
  remove(): void {
    removeNamespaces(this.namespaces.splice(0));
  }
}

function removeNamespaces(names: string[]): void {
  for (const n of names) {
    try {
      run("ip", ["netns", "del", n]);
    } catch {
      // already gone
    }
  }
}

/** This machine's simulation namespaces: every one named with NETNS_PREFIX. */
export function simNamespaces(): string[] {
  return run("ip", ["netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

/**
 * Removes what simulations whose process is gone (a kill -9) left: the services still running in
 * their namespaces (SIGKILL; a namespace outlives its name while a process is in it), then the
 * namespaces. Returns the namespaces' names and how many processes were stopped.
 */
export function removeLeftovers(): { namespaces: string[]; processes: number } {
  const gone = simNamespaces().filter((n) => {
    const pid = Number(/^gmsim-(\d+)-/.exec(n)?.[1]);
    if (!Number.isInteger(pid)) return true;
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  let processes = 0;
  for (const n of gone) {
    const pids = run("ip", ["netns", "pids", n])
      .split("\n")
      .filter((l) => /^\d+$/.test(l.trim()));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGKILL");
        processes++;
      } catch {
        // exited meanwhile
      }
    }
  }
  removeNamespaces(gone);
  return { namespaces: gone, processes };
}
