// One queue for the WebGPU work of a process. onnxruntime's WebGPU provider shares one Dawn device
// among every session of the process, and Dawn's device is not to be used from two threads at once:
// a policy and a reference engine in worker threads of one process, computing at the same time,
// crashed it (a segmentation fault in `npm run bench -- gpu`). So every WebGPU session creation, run
// and release that this process starts goes through `onGpuLane`, one at a time. Separate processes
// (the services `npm start` runs) have separate devices and do not wait for each other.

let tail: Promise<unknown> = Promise.resolve();

/** True for providers whose sessions share one device per process and must take turns. */
export function needsGpuLane(provider: string | undefined): boolean {
  return provider === "webgpu";
}

/** Runs `fn` after every earlier call on the lane finished (whatever their outcome); CPU and CUDA work runs at once. */
export function onGpuLane<T>(provider: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!needsGpuLane(provider)) return fn();
  const run = tail.then(fn, fn);
  tail = run.catch(() => undefined);
  return run;
}
