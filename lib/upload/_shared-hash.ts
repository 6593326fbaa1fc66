/**
 * Many small files hashed by two threads at once into one block of shared memory. Each thread
 * claims the next batch of files from a shared counter, reads each file whole into its slot of
 * the block and writes the raw digest into its slot of the digest block; whichever thread is
 * faster (the helper starts later and warms up slower) simply claims more batches. The bytes
 * then stay in place for storing, by either thread, without a copy or a message per file.
 * Imported by the upload worker too, so it stays free of the database and other heavy imports.
 * @module
 */
import { readFileSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import { readUpTo } from "../checksum/file-content.ts";

/** Files claimed at a time: large enough that the shared counter is no cost, small enough to balance. */
export const CLAIM_BATCH = 32;

/** A file's state in {@link SharedFiles.states}: not claimed yet (0), hashed, or changed. */
const HASHED = 1;
/** Its size differs from its `stat`: it changed meanwhile, and is hashed again on its own. */
const CHANGED = 2;

/** Small files and the shared memory both threads hash them into; it can be posted to a Worker as is. */
export interface SharedFiles {
  /** The paths joined by NUL: posting one string costs ~0.2 ms, an array of 10k strings ~6 ms. */
  paths: string;
  count: number;
  /** Sizes from the files' `stat`; a file's slot is one byte longer, to notice that it grew. */
  sizes: Float64Array;
  offsets: Float64Array;
  bytes: SharedArrayBuffer;
  /** 32 bytes of SHA-256 per file. */
  digests: SharedArrayBuffer;
  /** One state byte per file (see {@link hashClaimed}). */
  states: SharedArrayBuffer;
  /** `[0]`: the next file to claim. */
  next: SharedArrayBuffer;
}

/** Allocates the shared memory for these files (pages are only committed once written). */
export function sharedFilesOf(paths: string[], sizes: number[]): SharedFiles {
  const offsets = new Float64Array(paths.length);
  let total = 0;
  for (const [k, size] of sizes.entries()) {
    offsets[k] = total;
    total += size + 1;
  }
  return {
    paths: paths.join("\0"),
    count: paths.length,
    sizes: Float64Array.from(sizes),
    offsets,
    bytes: new SharedArrayBuffer(total),
    digests: new SharedArrayBuffer(paths.length * 32),
    states: new SharedArrayBuffer(paths.length),
    next: new SharedArrayBuffer(4),
  };
}

/** Claims and hashes batches of files until none are left; a read error names its file. */
export function hashClaimed(files: SharedFiles): void {
  const bytes = new Uint8Array(files.bytes);
  const digests = new Uint8Array(files.digests);
  const states = new Uint8Array(files.states);
  const next = new Int32Array(files.next);
  const count = files.count;
  const paths = pathsOf(files);
  for (let start = Atomics.add(next, 0, CLAIM_BATCH); start < count; start = Atomics.add(next, 0, CLAIM_BATCH)) {
    for (let k = start; k < Math.min(start + CLAIM_BATCH, count); k++) {
      const offset = files.offsets[k]!;
      const size = files.sizes[k]!;
      if (readUpTo(paths[k]!, bytes, offset, size + 1) !== size) {
        states[k] = CHANGED;
        continue;
      }
      Bun.SHA256.hash(bytes.subarray(offset, offset + size), digests.subarray(k * 32, k * 32 + 32));
      states[k] = HASHED;
    }
  }
}

/** One file's result: the bytes are a view of the shared block, unless the file had changed. */
export interface SharedResult {
  checksum: Checksum;
  bytes: Uint8Array;
}

/**
 * The results once every claim is done (both threads have returned from {@link hashClaimed});
 * a file that changed since its `stat` is read and hashed again here, as it is now.
 */
export function sharedResults(files: SharedFiles): SharedResult[] {
  const bytes = new Uint8Array(files.bytes);
  const states = new Uint8Array(files.states);
  // One conversion for all: a hex string per digest cost more.
  const hex = Buffer.from(files.digests).toString("hex");
  return pathsOf(files).map((path, k) => {
    if (states[k] === HASHED) {
      const offset = files.offsets[k]!;
      return { checksum: hex.slice(k * 64, k * 64 + 64), bytes: bytes.subarray(offset, offset + files.sizes[k]!) };
    }
    if (states[k] !== CHANGED) throw new Error(`shared hashing left "${path}" unclaimed`);
    const again = readFileSync(path);
    return { checksum: computeChecksum(again), bytes: again };
  });
}

function pathsOf(files: SharedFiles): string[] {
  return files.count === 0 ? [] : files.paths.split("\0");
}
