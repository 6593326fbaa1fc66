/**
 * Cross-process single flight: one lock file per transformation checksum, created with
 * O_EXCL, so two identical runs started together execute the command once. The lock names the
 * running process, which is how `seamless cancel` finds it.
 * @module
 */
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { acquirePidLock, type HeldLock } from "../concurrency/pid-lock.ts";

export type { HeldLock } from "../concurrency/pid-lock.ts";

/** The lock file of a transformation. */
export function transformationLockPathOf(lockDir: string, checksum: Checksum): string {
  return join(lockDir, `${checksum}.lock`);
}

/**
 * Takes the lock for `checksum`, waiting while a live process holds it. A lock left by a dead
 * process is broken.
 *
 * @param shouldStop polled while waiting; when it returns true, waiting ends with null
 * @returns the lock, or null if waiting was stopped
 */
export function acquireTransformationLock(lockDir: string, checksum: Checksum, shouldStop: () => boolean, onWait?: () => void): Promise<HeldLock | null> {
  return acquirePidLock(transformationLockPathOf(lockDir, checksum), shouldStop, onWait && (() => onWait()));
}
