/**
 * A counting semaphore, to bound how much disk work a server does at once.
 * @module
 */

/** At most `permits` holders at a time; the rest wait in arrival order. */
export class Semaphore {
  #available: number;
  #waiting: (() => void)[] = [];

  constructor(permits: number) {
    this.#available = permits;
  }

  /** Runs `work` while holding a permit. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#available > 0) this.#available--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#available++;
    }
  }
}
