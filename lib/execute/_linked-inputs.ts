/**
 * Large inputs are handed to a command as read-only links into the local store, not copied: a copy of a
 * 1 GiB input on every cache miss would cost more than most commands. A link lets a command
 * write into the store (file modes do not stop root), so each linked buffer is checked before
 * the run (its stamp in the stat cache, hashed once when unknown) and after it (size, mtime,
 * ctime and inode unchanged, else hashed again): a buffer that changed is dropped from the
 * store and the run fails, caching nothing. Smaller inputs are verified copies (workspace.ts).
 * @module
 */
import { chmodSync, rmSync, statSync, symlinkSync, type Stats } from "node:fs";
import { resolve } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { checksumFile } from "../checksum/file-checksum.ts";
import { StatCache, stampOf, type FileStamp } from "../checksum/stat-cache.ts";
import { statCachePathOf } from "../buffers/cache-dir.ts";
import { cacheDirOf } from "../config/mod.ts";
import type { BufferDir } from "../buffers/bufferdir.ts";
import { CorruptBufferError, SeamlessError } from "../errors.ts";

/** From this size on, an input stored uncompressed in the local store is linked, not copied. */
export const LINK_MIN_BYTES = 32 * 1024 * 1024;

/** A command changed a stored buffer through the link it was given (exit 1; nothing cached). */
export class InputChangedError extends SeamlessError {
  constructor(message: string, readonly checksum: string) {
    super(message);
  }
}

interface Linked {
  pin: string;
  path: string;
  checksum: Checksum;
  stamp: FileStamp;
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** The large inputs of one workspace, linked into the store and checked around the run. */
export class LinkedInputs {
  readonly #linked: Linked[] = [];
  #statCache: StatCache | null | undefined;

  /** The stat cache of the cache directory, opened on first need; null where it cannot be opened. */
  #cache(): StatCache | null {
    if (this.#statCache === undefined) {
      try {
        this.#statCache = new StatCache(statCachePathOf(cacheDirOf(process.env)));
      } catch {
        this.#statCache = null; // a read-only cache: every large input is hashed
      }
    }
    return this.#statCache;
  }

  /**
   * Links `target` to the stored buffer when it is large and stored uncompressed, after checking
   * that its bytes still match its name.
   *
   * @returns false when the buffer is to be copied instead
   * @throws {CorruptBufferError} when the stored bytes no longer match (the buffer is dropped)
   */
  tryLink(store: BufferDir, checksum: Checksum, target: string, pin: string): boolean {
    const found = store.locate(checksum);
    if (!found || found.suffix) return false;
    let stats: Stats;
    try {
      stats = statSync(found.path);
    } catch {
      return false;
    }
    if (stats.size < LINK_MIN_BYTES || !stats.isFile()) return false;
    if (stats.mode & 0o222) {
      // Read-only, so that an ordinary user's command cannot write through the link at all
      // (root can: the check after the run is for that). Its stamp changes once, here.
      try {
        chmodSync(found.path, stats.mode & 0o555);
        stats = statSync(found.path);
      } catch {} // a store we may not change: the check after the run still holds
    }
    const actual = checksumFile(found.path, this.#cache(), { stats }).checksum;
    if (actual !== checksum) throw dropped(found.path, checksum, `has checksum ${actual}`);
    symlinkSync(resolve(found.path), target);
    this.#linked.push({ pin, path: found.path, checksum, stamp: stampOf(stats) });
    return true;
  }

  /**
   * After the run: every linked buffer is as it was, or hashes as it did.
   *
   * @throws {InputChangedError} naming the input the command changed (the buffer is dropped)
   */
  verifyUnchanged(): void {
    for (const linked of this.#linked) {
      let stats: Stats;
      try {
        stats = statSync(linked.path);
      } catch {
        throw new InputChangedError(`The command removed its input "${linked.pin}" from the store (buffer "${linked.checksum}"); nothing was cached`, linked.checksum);
      }
      if (sameStamp(stampOf(stats), linked.stamp)) continue;
      const actual = checksumFile(linked.path, this.#cache(), { stats }).checksum;
      if (actual !== linked.checksum) {
        const removed = removeFromStore(linked.path) ? "the buffer has been removed from the store" : "the buffer could not be removed from the store";
        throw new InputChangedError(`The command changed its input "${linked.pin}", a link to buffer "${linked.checksum}" in the store; ${removed}, and nothing was cached`, linked.checksum);
      }
    }
  }

  close(): void {
    this.#statCache?.close();
  }
}

/** Removes a changed buffer from the store; says whether that worked. */
function removeFromStore(path: string): boolean {
  try {
    rmSync(path);
    return true;
  } catch {
    return false;
  }
}

function dropped(path: string, checksum: Checksum, what: string): CorruptBufferError {
  const removed = removeFromStore(path) ? "it has been removed from the store" : "it could not be removed from the store";
  return new CorruptBufferError(`Buffer "${checksum}" is corrupt: "${path}" ${what}; ${removed}`, checksum);
}
