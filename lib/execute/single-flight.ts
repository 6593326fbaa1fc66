/**
 * Cross-process single flight: one lock file per transformation checksum, created with
 * O_EXCL, so two identical runs started together execute the command once.
 * @module
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A held lock. */
export interface HeldLock {
  release(): void;
}

/**
 * Takes the lock for `checksum`, waiting while a live process holds it. A lock left by a dead
 * process is broken.
 *
 * @param shouldStop polled while waiting; when it returns true, waiting ends with null
 * @returns the lock, or null if waiting was stopped
 */
export async function acquireTransformationLock(lockDir: string, checksum: Checksum, shouldStop: () => boolean, onWait?: () => void): Promise<HeldLock | null> {
  mkdirSync(lockDir, { recursive: true });
  const path = join(lockDir, `${checksum}.lock`);
  let waited = false;
  let delayMs = 10;
  for (;;) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return { release: () => rmSync(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(path, "utf8"));
    } catch {
      continue; // released in between
    }
    if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (!waited) {
      waited = true;
      onWait?.();
    }
    if (shouldStop()) return null;
    await Bun.sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 200);
  }
}
