// The judge's current model. A swap replaces it atomically: requests that already acquired the
// old model finish on it, and its session is freed when the last of them releases it.
import { unavailable } from "@grpomesh/rpc";
import type { LoadedModel } from "./loaded-model.ts";

export class ModelSlot {
  private model: LoadedModel | null = null;
  private closed = false;

  /** The current model, or null before the first load. Do not use it across an await: acquire it. */
  get current(): LoadedModel | null {
    return this.model;
  }

  /** The current model with a reference held for the caller; UNAVAILABLE when none is loaded. */
  acquire(): LoadedModel {
    if (!this.model) {
      throw unavailable(
        this.closed
          ? "the judge is shutting down; retry on another replica"
          : "no judge model is loaded yet; start the judge with --model or call LoadModel, or retry on another replica",
      );
    }
    return this.model.acquire();
  }

  /** Installs `next` (which arrives holding the slot's reference) and returns the previous model's version. */
  swap(next: LoadedModel): string | null {
    if (this.closed) {
      next.release();
      throw unavailable("the judge is shutting down; the loaded model was discarded");
    }
    const previous = this.model;
    this.model = next;
    previous?.release();
    return previous?.version ?? null;
  }

  /** Drops the slot's reference; in-flight requests still finish. Resolves when the session is freed or still in use. */
  async close(): Promise<void> {
    this.closed = true;
    const last = this.model;
    this.model = null;
    if (last) {
      last.release();
      await last.released;
    }
  }
}
