/**
 * A lock file holding its owner's pid, created with O_EXCL, for work that must happen once
 * across processes (launching a server). A lock left by a dead
 * process is broken; waiting polls with backoff until the lock is free or the caller stops.
 * @module
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** A held lock. */
export interface HeldPidLock {
  release(): void;
}

/** True when a process with this pid exists (ours or another user's); no check of its start time. */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid a lock file names, or null when there is no lock (or it is being written). */
export function lockHolderOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, "utf8"));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock at `path`, waiting while a live process holds it.
 *
 * @param shouldStop polled while waiting; when it returns true, waiting ends with null
 * @param onWait called once, when the lock is found taken
 * @returns the lock, or null if waiting was stopped
 * @example
 * ```ts
 * const lock = await acquirePidLock(join(dir, "x.lock"), () => false);
 * lock?.release();
 * ```
 */
export async function acquirePidLock(path: string, shouldStop: () => boolean, onWait?: (holder: number | null) => void): Promise<HeldPidLock | null> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let waited = false;
  let delayMs = 10;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return { release: () => rmSync(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = lockHolderOf(path);
    // An empty file is a lock being written this instant; a dead holder's lock is broken.
    if (holder !== null && !isPidAlive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (!waited) {
      waited = true;
      onWait?.(holder);
    }
    if (shouldStop()) return null;
    await Bun.sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 200);
  }
}
