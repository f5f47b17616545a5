export function rewriteTsSpecifiers(code: string): string;
export function rewritePackageJson<T extends Record<string, unknown>>(pkg: T): T;
export function compile(options: { root?: string; out: string }): Promise<{ out: string; compiled: number; copied: number }>;
