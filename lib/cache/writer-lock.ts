/**
 * One writer per database file (services-spec §10 item 5): a writable `seamless database`
 * holds an exclusive `flock` on `<file>.lock` for its lifetime. The kernel drops it when the
 * process ends, however it ends, so a lock is never stale. A sidecar file is locked rather than
 * the database itself because SQLite's own locks are `fcntl` locks, which `flock` emulation
 * on network file systems would collide with.
 * @module
 */
import { closeSync, openSync } from "node:fs";
import { SeamlessError } from "../errors.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;

type Flock = (fd: number, operation: number) => number;

let flockFunction: Flock | null | undefined;

/** libc `flock` through `bun:ffi`, or null where libc cannot be loaded. */
function loadFlock(): Flock | null {
  if (flockFunction !== undefined) return flockFunction;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const libc = dlopen(process.platform === "darwin" ? "libc.dylib" : "libc.so.6", { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
    flockFunction = (fd, operation) => libc.symbols.flock(fd, operation) as number;
  } catch {
    flockFunction = null;
  }
  return flockFunction;
}

/** A held writer lock. */
export interface WriterLock {
  /** False where the platform offers no `flock` (the lock is then advisory only in name). */
  readonly held: boolean;
  release(): void;
}

/** The lock file of a database file. */
export function writerLockPathOf(databasePath: string): string {
  return `${databasePath}.lock`;
}

/**
 * Takes the writer lock of a database file, without waiting.
 *
 * @throws {SeamlessError} when another process holds it
 */
export function acquireWriterLock(databasePath: string): WriterLock {
  const flock = loadFlock();
  const fd = openSync(writerLockPathOf(databasePath), "a", 0o600);
  if (flock === null) return { held: false, release: () => closeSync(fd) };
  if (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    closeSync(fd);
    throw new SeamlessError(`Database file "${databasePath}" is already served by another writable server (lock "${writerLockPathOf(databasePath)}" is held)`);
  }
  return { held: true, release: () => closeSync(fd) };
}
