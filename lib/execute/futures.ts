/**
 * `.FUTURE` files (cli-spec §3.18): written next to result targets while a run is under way,
 * touched every 30 s, removed at the end; a run that reads such an output waits for it.
 *
 * The file's bytes are Python's (`<tf>.<server>\n`), so who writes it is recorded apart: each
 * run lists its futures in `<cache>/futures/<pid>-<startTicks>`. A reader that finds the
 * future listed by a dead process knows at once that it is stale; a future nobody lists (written
 * by Python seamless) keeps the 120 s rule. {@link reapAbandonedFutures} removes the futures of
 * runs that were killed with SIGKILL.
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { InterruptedError, SeamlessError } from "../errors.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import { isProcessAlive, ownerTag } from "../process/process-tree.ts";
import type { Log } from "../log.ts";

const STALE_AFTER_MS = 120_000;

/** Where runs list the futures they hold, inside a cache directory. */
export function futureRegistryOf(cacheDir: string): string {
  return join(cacheDir, "futures");
}

/** Whether the owner `<pid>-<startTicks>` that names a registry entry is alive. */
function ownerAlive(entry: string): boolean {
  const [pid, ticks] = entry.split("-");
  return isProcessAlive(Number(pid), ticks ?? null);
}

function listedPaths(registry: string, entry: string): string[] {
  try {
    return readFileSync(join(registry, entry), "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** The registry entry that lists `path`, or null. */
function writerOf(registry: string, path: string): string | null {
  let entries: string[];
  try {
    entries = readdirSync(registry);
  } catch {
    return null;
  }
  const absolute = resolve(path);
  for (const entry of entries) if (!entry.startsWith(".") && listedPaths(registry, entry).includes(absolute)) return entry;
  return null;
}

/** Options of {@link waitForFuture}. */
export interface FutureWaitOptions {
  /** The futures registry ({@link futureRegistryOf}); without it only the 120 s rule applies. */
  registry?: string;
  signal?: AbortSignal;
}

/**
 * Waits until `path` (a `.FUTURE` file) disappears. A future whose writer is dead is stale at
 * once (and removed); one not touched for 120 s is stale.
 *
 * @throws {SeamlessError} on a stale future
 * @throws {InterruptedError} when `options.signal` is aborted
 */
export async function waitForFuture(path: string, log: Log, options: FutureWaitOptions = {}): Promise<void> {
  log.message(0, `Waiting for future '${path}'...`);
  while (existsSync(path)) {
    if (options.signal?.aborted) throw new InterruptedError(`Canceled while waiting for future '${path}'`);
    const writer = options.registry ? writerOf(options.registry, path) : null;
    if (writer && !ownerAlive(writer)) {
      rmSync(path, { force: true });
      throw new SeamlessError(`Stale future ${path}: the run writing it (process ${writer.split("-")[0]}) is gone`, { hint: "run the command that produces it again" });
    }
    let atimeMs: number;
    try {
      const stats = statSync(path);
      atimeMs = Math.max(stats.atimeMs, stats.mtimeMs);
    } catch {
      break;
    }
    if (Date.now() - atimeMs > STALE_AFTER_MS) throw new SeamlessError(`Stale future ${path}`);
    await Bun.sleep(200);
  }
}

/**
 * Removes the futures listed by runs that are gone (killed with SIGKILL), and their entries.
 *
 * @returns the futures removed
 */
export function reapAbandonedFutures(registry: string): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(registry);
  } catch {
    return removed;
  }
  for (const entry of entries) {
    if (entry.startsWith(".") || ownerAlive(entry)) continue;
    try {
      for (const path of listedPaths(registry, entry)) {
        if (existsSync(path)) {
          rmSync(path, { force: true });
          removed.push(path);
        }
      }
      rmSync(join(registry, entry), { force: true });
    } catch {
      // A read-only cache or target: what cannot be removed now is left to a later run.
    }
  }
  return removed;
}

let runCounter = 0;

/** Futures held for the duration of a run. */
export class FutureFiles {
  #paths: string[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;
  #entry: string | null = null;
  #registry: string | undefined;
  #signal: AbortSignal | undefined;

  /**
   * @param registry where to list the futures ({@link futureRegistryOf}); none: not listed
   * @param signal aborting it removes the futures at once
   */
  constructor(registry?: string, signal?: AbortSignal) {
    this.#registry = registry;
    this.#signal = signal;
    signal?.addEventListener("abort", () => this.release(), { once: true });
  }

  /** Writes `<local>.FUTURE` = `<tf>.<server>\n` per target and starts touching them. */
  start(entries: { path: string; content: string }[]): void {
    if (entries.length === 0 || this.#signal?.aborted) return;
    if (this.#registry) {
      const entry = join(this.#registry, `${ownerTag()}-${++runCounter}`);
      try {
        mkdirSync(this.#registry, { recursive: true });
        writeFileAtomic(entry, entries.map(({ path }) => `${resolve(path)}\n`).join(""));
        this.#entry = entry;
      } catch {
        // A read-only cache: the futures are not listed, and readers keep the 120 s rule for them.
      }
    }
    for (const { path, content } of entries) {
      mkdirSync(dirname(path), { recursive: true }); // `> results/x.txt`: results/ may not exist yet
      writeFileAtomic(path, content);
      this.#paths.push(path);
    }
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

  /** Removes the futures (idempotent). */
  release(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const path of this.#paths) rmSync(path, { force: true });
    this.#paths = [];
    if (this.#entry) {
      try {
        rmSync(this.#entry, { force: true });
      } catch {}
    }
    this.#entry = null;
  }
}
