/**
 * Cross-process single flight: one lock file per transformation checksum, locked with `flock`
 * on an open descriptor, so two identical runs started together execute the command once. The
 * kernel releases the lock when its holder dies (even by SIGKILL): no stale lock can exist, and
 * what the file contains (empty, or a pid of an unrelated process) never matters. The holder
 * writes its pid into the file only so a waiter can say whom it waits for, and so that
 * `seamless cancel` finds the process that runs a transformation.
 * @module
 */
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { tryLockExclusive } from "./_flock.ts";
import type { Log } from "../log.ts";

/** A held lock. */
export interface HeldLock {
  release(): void;
}

/** The lock file of a transformation. */
export function transformationLockPathOf(lockDir: string, checksum: Checksum): string {
  return join(lockDir, `${checksum}.lock`);
}

/** Options of {@link acquireTransformationLock}. */
export interface LockOptions {
  /** Ends the wait (the result is then null). */
  signal?: AbortSignal;
  /** Says (level 1) when the lock is held by another process, and again every 60 s: what we wait for. */
  log?: Log;
  /** Gives up after this long (the result is then null); by default the wait lasts as long as the holder lives. */
  maxWaitMs?: number;
}

const REMIND_EVERY_MS = 60_000;

/** Locks `path` if free; the descriptor stays open while the lock is held. */
function tryLock(path: string): HeldLock | null {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o666);
  try {
    if (!tryLockExclusive(fd, path)) {
      closeSync(fd);
      return null;
    }
    // The previous holder unlinks the file before it unlocks: a lock on an unlinked file is no lock.
    let current: number | null = null;
    try {
      current = statSync(path).ino;
    } catch {}
    if (current !== fstatSync(fd).ino) {
      closeSync(fd);
      return null;
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return {
    release: () => {
      try {
        unlinkSync(path);
      } catch {}
      closeSync(fd);
    },
  };
}

function holderOf(path: string): string {
  try {
    const pid = readFileSync(path, "utf8").trim();
    return /^\d+$/.test(pid) ? `process ${pid}` : "another process";
  } catch {
    return "another process";
  }
}

/**
 * Takes the lock for `checksum`. The wait lasts while another live process holds the lock (it
 * runs the same transformation) and ends with it, when `signal` is aborted, or after `maxWaitMs`.
 *
 * @returns the lock, or null if `signal` was aborted or `maxWaitMs` passed
 * @throws {SeamlessError} when the lock directory's file system cannot lock files
 */
export async function acquireTransformationLock(lockDir: string, checksum: Checksum, options: LockOptions = {}): Promise<HeldLock | null> {
  mkdirSync(lockDir, { recursive: true });
  const path = transformationLockPathOf(lockDir, checksum);
  const started = Date.now();
  let toldAt: number | null = null;
  let delayMs = 5;
  for (;;) {
    if (options.signal?.aborted) return null;
    const lock = tryLock(path);
    if (lock) return lock;
    const now = Date.now();
    if (options.maxWaitMs !== undefined && now - started >= options.maxWaitMs) return null;
    if (toldAt === null || now - toldAt >= REMIND_EVERY_MS) {
      const waited = toldAt === null ? "" : ` (${Math.round((now - started) / 1000)} s so far)`;
      toldAt = now;
      options.log?.message(1, `Waiting for an identical transformation in ${holderOf(path)} (lock ${path})...${waited}`);
    }
    await Bun.sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 200);
  }
}
