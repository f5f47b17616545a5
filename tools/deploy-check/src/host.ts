// Small facts about this machine's tools, shared by the image build, the podman run and the tests.
import { spawnSync } from "node:child_process";

/** Whether `name` is a command on PATH. */
export function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

const UNITS: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** "247 MB", "123.4MB", "1.5GiB" (what buildah images and podman stats print) → bytes; NaN when it is not a size. */
export function parseBytes(text: string): number {
  const m = /^([\d.]+)\s*([kKMGT]?i?B)$/.exec(text.trim());
  return m ? Number(m[1]) * (UNITS[m[2]!] ?? NaN) : NaN;
}
