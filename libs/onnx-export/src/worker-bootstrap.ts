// The source a worker thread starts from (`new Worker(source, { eval: true })`) to load a module of
// ours by absolute URL, whatever the working directory. A worker does not inherit the parent's
// --import hooks: running from TypeScript sources (a ".ts" URL) it registers tsx's loader first;
// compiled to JavaScript (the container images: tools/scripts/compile.mjs) it imports the module
// as it is, and tsx need not be installed.
export function workerBootstrap(moduleUrl: string): string {
  if (!moduleUrl.endsWith(".ts")) return `import(${JSON.stringify(moduleUrl)})`;
  const tsx = import.meta.resolve("tsx/esm/api");
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl)}); })`;
}
