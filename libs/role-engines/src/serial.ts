// Runs async jobs one at a time in arrival order: a retried Update that arrives while the first
// copy is still running waits for it and is then answered from memory, never applied twice.
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Jobs queued or running now. */
  get pending(): number {
    return this.waiting;
  }

  run<T>(job: () => T | Promise<T>): Promise<T> {
    this.waiting++;
    const next = this.tail.then(job).finally(() => this.waiting--);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
