// Seeded hostile values: the numbers, strings, paths, shapes and byte strings that break services
// written for well-behaved callers. The test and the long run draw from the same generator, so a
// seed that finds a bug in the long run reproduces it.
import { Rng } from "@grpomesh/rng";

/** One MiB: the length of the longest strings sent (paths, version labels, seeds). */
export const MIB = 1024 * 1024;

/** float32 values a trainer or sampler must refuse or survive. */
export const HOSTILE_FLOATS: readonly number[] = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  -1,
  -1e-30,
  1e-45, // the smallest float32 subnormal
  3.4e38, // near float32's largest
  -3.4e38,
  1e30,
];

/** uint32 values at the edges. */
export const HOSTILE_U32: readonly number[] = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff];

/** int64 tensor dimensions: negative, zero, overflowing products. */
export const HOSTILE_DIMS: readonly bigint[] = [-1n, -(2n ** 63n), 0n, 2n ** 31n, 2n ** 32n + 1n, 2n ** 62n, 2n ** 63n - 1n];

export interface PathContext {
  /** A folder inside the service's allowed root that is a symlink to a folder outside it. */
  symlinkOut?: string;
  /** An existing file inside the allowed root that the service did not write. */
  victimFile?: string;
  /** An existing folder inside the allowed root that the service did not write. */
  victimDir?: string;
}

/**
 * Paths that must be refused even for a write: they leave the root (traversal, absolute, a
 * symlink out of it), exceed the 4 KiB bound, hold NUL, or name something the service did not write.
 */
export function escapingPaths(ctx: PathContext = {}): string[] {
  const paths = [
    "",
    "../../etc/passwd",
    "/etc/passwd",
    "/etc",
    "/",
    "..",
    "../".repeat(64) + "etc/passwd",
    "./../../../../../../../../tmp",
    "a/../../b",
    "a\u0000b",
    "\u0000",
    "a".repeat(4097), // one over the 4 KiB bound
    "a".repeat(MIB), // 1 MiB of name
    "../".repeat(MIB / 3), // 1 MiB of traversal
    "x/".repeat(3000) + "y", // deep and over the bound
    "/proc/self/environ",
    "/dev/zero",
  ];
  if (ctx.symlinkOut) paths.push(ctx.symlinkOut, `${ctx.symlinkOut}/escaped`, `${ctx.symlinkOut}/../${ctx.symlinkOut}/x`);
  if (ctx.victimFile) paths.push(ctx.victimFile);
  if (ctx.victimDir) paths.push(ctx.victimDir);
  return paths;
}

/**
 * Names that look like an escape but resolve inside the root (nothing there to read): a load must
 * refuse them as missing; a write there would be legitimate, so writes never get them.
 */
export const CONFUSING_PATHS: readonly string[] = [
  "~/.ssh/id_rsa",
  "%2e%2e/%2e%2e/etc/passwd",
  "..\\..\\windows\\system32",
  "file:///etc/passwd",
  "\ud800", // a lone surrogate: goes on the wire as U+FFFD
  "a/../b",
];

/** Every hostile path, for requests that only read. */
export function hostilePaths(ctx: PathContext = {}): string[] {
  return [...escapingPaths(ctx), ...CONFUSING_PATHS];
}

/** Version labels a service must refuse: 1 MiB, over 4 KiB, NUL, line breaks (they would forge log lines). */
export const HOSTILE_LABELS: readonly string[] = ["x".repeat(MIB), "v".repeat(4097), "\u0000", "v1\u0000", "\n\r\t", "v1\njudge: serving address=0.0.0.0:1"];

/**
 * A seeded source of hostile values. `pick` chooses among the fixed lists above; `garbage`
 * returns bytes that never decode as a protobuf message (the first byte is a tag for field 0).
 */
export class HostileValues {
  readonly rng: Rng;
  constructor(seed: number | string) {
    this.rng = new Rng(seed);
  }

  int(n: number): number {
    return this.rng.nextInt(n);
  }

  chance(p: number): boolean {
    return this.rng.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.rng.nextInt(items.length)]!;
  }

  /** A hostile float32, or (a quarter of the time) a random ordinary one. */
  float(): number {
    return this.chance(0.25) ? this.rng.uniform(-10, 10) : this.pick(HOSTILE_FLOATS);
  }

  u32(): number {
    return this.chance(0.2) ? this.rng.nextU32() : this.pick(HOSTILE_U32);
  }

  dim(): bigint {
    return this.pick(HOSTILE_DIMS);
  }

  /** Random bytes of the given length. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      const word = this.rng.nextU32();
      for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
    }
    return out;
  }

  /**
   * Bytes that are not a protobuf message: the first byte is a tag for field number 0, which no
   * decoder accepts, so an admin RPC can never read them as a valid (empty) request.
   */
  garbage(length = 1 + this.int(256)): Uint8Array {
    const out = this.bytes(Math.max(1, length));
    out[0] = this.int(8); // field 0, wire type 0..7
    return out;
  }
}
