/**
 * `.FUTURE` files (cli-spec §3.18): written next to result targets while a run is under way,
 * touched every 30 s, removed at the end; a run that reads such an output waits for it.
 * @module
 */
import { existsSync, mkdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { dirname } from "node:path";
import { SeamlessError } from "../errors.ts";
import { writeFileAtomic } from "../buffers/atomic-write.ts";

const STALE_AFTER_MS = 120_000;

/** Waits until `path` (a `.FUTURE` file) disappears; a future not touched for 120 s is stale. */
export async function waitForFuture(path: string, say: (text: string) => void): Promise<void> {
  say(`Waiting for future '${path}'...`);
  while (existsSync(path)) {
    let atimeMs: number;
    try {
      const stats = statSync(path);
      atimeMs = Math.max(stats.atimeMs, stats.mtimeMs);
    } catch {
      break;
    }
    if (Date.now() - atimeMs > STALE_AFTER_MS) throw new SeamlessError(`Stale future ${path}`);
    await Bun.sleep(500);
  }
}

/** Futures held for the duration of a run. */
export class FutureFiles {
  #paths: string[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;

  /** Writes `<local>.FUTURE` = `<tf>.<server>\n` per target and starts touching them. */
  start(entries: { path: string; content: string }[]): void {
    for (const { path, content } of entries) {
      mkdirSync(dirname(path), { recursive: true }); // `> results/x.txt`: results/ may not exist yet
      writeFileAtomic(path, content);
      this.#paths.push(path);
    }
    if (this.#paths.length > 0) {
      this.#timer = setInterval(() => {
        const now = new Date();
        for (const path of this.#paths) {
          try {
            utimesSync(path, now, now);
          } catch {}
        }
      }, 30_000);
      this.#timer.unref?.();
    }
  }

  /** Removes the futures. */
  release(): void {
    if (this.#timer) clearInterval(this.#timer);
    for (const path of this.#paths) rmSync(path, { force: true });
    this.#paths = [];
  }
}
