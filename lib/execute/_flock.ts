/**
 * `flock(2)` through `bun:ffi`: a lock held on an open descriptor is released by the kernel when
 * its holder dies, however it dies, so no stale lock can exist. `bun:ffi` is loaded on first
 * use only (a few ms): only a cache miss takes a lock.
 * @module
 */
import { SeamlessError } from "../errors.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;

interface Libc {
  flock(fd: number, operation: number): number;
  errno(): number;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  const { dlopen, FFIType, read } = require("bun:ffi") as typeof import("bun:ffi");
  const name = process.platform === "darwin" ? "libc.dylib" : "libc.so.6";
  const errnoSymbol = process.platform === "darwin" ? "__error" : "__errno_location";
  const lib = dlopen(name, {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    [errnoSymbol]: { args: [], returns: FFIType.ptr },
  });
  const errnoLocation = lib.symbols[errnoSymbol] as () => number | null;
  libc = {
    flock: (fd, operation) => lib.symbols.flock(fd, operation) as number,
    errno: () => {
      const where = errnoLocation();
      return where ? read.i32(where as never, 0) : 0;
    },
  };
  return libc;
}

/**
 * Tries to take an exclusive lock on an open file descriptor without waiting.
 *
 * @param fd an open descriptor (the lock lives as long as it stays open in this process)
 * @param path the file's name, for the error
 * @returns true when locked, false when another process holds the lock
 * @throws {SeamlessError} when the file system cannot lock files
 */
export function tryLockExclusive(fd: number, path: string): boolean {
  const lib = loadLibc();
  for (;;) {
    if (lib.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = lib.errno();
    if (errno === EINTR) continue;
    if (errno === EWOULDBLOCK) return false;
    throw new SeamlessError(`Cannot lock "${path}": flock failed with errno ${errno}`, { hint: "the cache directory must be on a file system that supports file locks" });
  }
}
