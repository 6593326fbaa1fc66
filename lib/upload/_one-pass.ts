/**
 * A first upload of many small files into a local buffer directory, one pass per file on two
 * threads: open, `fstat`, read, hash, store the buffer unless present. Each thread claims
 * batches of files from a shared counter and reuses one read buffer, so neither waits for a
 * phase of the other and no file's bytes stay in memory. The main thread writes the sidecars,
 * each once its buffer is stored, and uploads batches too whenever it has caught up. The
 * `fstat` of the open file, taken before reading, is the stamp the stat cache records. What
 * cannot be done in one pass (a directory, a large, compressed or special file, one that
 * changed while read, an error) is left to the general upload.
 * Imported by the upload worker: no heavy imports.
 * @module
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { compressionSuffixOf } from "../checksum/compression.ts";
import { SMALL_FILE_BYTES } from "../checksum/file-content.ts";
import { trivialBuffer } from "../checksum/trivial.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import { CLAIM_BATCH } from "./_shared-hash.ts";

/** A file's state in {@link OnePassFiles.states}, besides 0: not claimed, or not done yet. */
const ONE_PASS_STORED = 1;
/** The buffer was there already (or is trivial); the sidecar is written as for a stored one. */
const ONE_PASS_PRESENT = 2;
/** Left to the general upload. */
const ONE_PASS_LEFT = 3;

/** Int32 slots of {@link OnePassFiles.counters}. */
const NEXT = 0;
/**
 * 1 once a file could not be opened or read, or storing failed: both threads stop claiming.
 * What is left goes to the general upload, which reports an unreadable file.
 */
const STOP = 1;

/** Numbers per file in {@link OnePassFiles.stamps}: dev, ino, size, mtime, ctime (as `stat` gives them). */
export const STAMP_FIELDS = 5;

/** Files to upload in one pass, and the shared memory both threads work in; it can be posted to a Worker as is. */
export interface OnePassFiles {
  /** The paths joined by NUL: posting one string costs ~0.2 ms, an array of 10k strings ~6 ms. */
  paths: string;
  count: number;
  /** The buffer directory (prefix layout); it exists. */
  storeDirectory: string;
  fileMode: number;
  /**
   * The first four bytes of every buffer name in the store when it was listed, sorted: a buffer
   * whose digest does not start with one of them is certainly absent. One that does is looked up.
   * Null when the store was not listed (too large for a listing to pay): every buffer is looked up.
   */
  storedPrefixes: Uint32Array<SharedArrayBuffer> | null;
  /** 32 bytes of SHA-256 per file. */
  digests: SharedArrayBuffer;
  /** {@link STAMP_FIELDS} numbers per file. */
  stamps: Float64Array<SharedArrayBuffer>;
  /** One state byte per file. */
  states: SharedArrayBuffer;
  /** Int32 `[0]`: the next file to claim; `[1]`: 1 once stopped. */
  counters: SharedArrayBuffer;
  /**
   * Per file, 1 when its directory was listed with it as a regular file: it is opened at once.
   * Any other is looked at first, for a FIFO must not be opened here: a writer waiting for a
   * reader would write to this one, which does not read.
   */
  listedRegular: Uint8Array<SharedArrayBuffer>;
}

/** The shared memory for these files; set {@link OnePassFiles.storedPrefixes} (with {@link storedPrefixesOf}, or null) before use. */
export function onePassFilesOf(paths: readonly string[], storeDirectory: string, fileMode: number): OnePassFiles {
  return {
    paths: paths.join("\0"),
    count: paths.length,
    storeDirectory,
    fileMode,
    storedPrefixes: new Uint32Array(new SharedArrayBuffer(0)),
    digests: new SharedArrayBuffer(paths.length * 32),
    stamps: new Float64Array(new SharedArrayBuffer(paths.length * STAMP_FIELDS * 8)),
    states: new SharedArrayBuffer(paths.length),
    counters: new SharedArrayBuffer(8),
    listedRegular: new Uint8Array(new SharedArrayBuffer(paths.length)),
  };
}

/** The store's listing as {@link OnePassFiles.storedPrefixes}. */
export function storedPrefixesOf(storedNames: Iterable<string>): Uint32Array<SharedArrayBuffer> {
  const prefixes: number[] = [];
  for (const name of storedNames) if (/^[0-9a-f]{8}/.test(name)) prefixes.push(Number.parseInt(name.slice(0, 8), 16));
  const sorted = new Uint32Array(new SharedArrayBuffer(prefixes.length * 4));
  sorted.set(prefixes);
  return sorted.sort();
}

/**
 * Claims batches of files and uploads each (read, hash, store), until none are left or the
 * claiming stopped: the helper's part. A failure to store a buffer stops both threads and is thrown.
 */
export function uploadClaimed(files: OnePassFiles): void {
  const pass = new OnePass(files);
  while (pass.uploadNextBatch());
}

/**
 * The main thread's part: hands each file whose buffer is stored or present (by either thread)
 * to `onStored`, in input order, and uploads the next batch itself whenever it has caught up.
 * The caller writes the sidecars there, on this thread alone: two threads creating files in one
 * directory slow each other down. A file still in the helper's hands holds up those after it.
 *
 * @param helperDone resolves when the helper has no claim left; rejects with its error
 * @param onStored file `k`'s checksum; `stored` when this upload stored its buffer, which was absent
 */
export async function uploadClaimedInOrder(files: OnePassFiles, helperDone: Promise<void>, onStored: (k: number, checksum: string, stored: boolean) => void): Promise<void> {
  const pass = new OnePass(files);
  const states = new Uint8Array(files.states);
  let helperFinished = false;
  try {
    for (let next = 0; next < files.count; ) {
      const state = Atomics.load(states, next);
      if (state === ONE_PASS_STORED || state === ONE_PASS_PRESENT) onStored(next, pass.checksumOf(next), state === ONE_PASS_STORED);
      if (state !== 0 || helperFinished) {
        next++;
        continue;
      }
      if (pass.uploadNextBatch()) continue;
      await helperDone; // its last batch, or its error
      helperFinished = true;
    }
  } catch (error) {
    Atomics.store(new Int32Array(files.counters), STOP, 1);
    if (!helperFinished) await helperDone.catch(() => {});
    throw error;
  }
  if (!helperFinished) await helperDone;
}

/** One thread's part: its read buffer, and the prefix directories it has made. */
class OnePass {
  readonly #files: OnePassFiles;
  readonly paths: string[];
  readonly #states: Uint8Array;
  readonly #digests: Uint8Array;
  readonly #counters: Int32Array;
  readonly #buffer = Buffer.allocUnsafe(SMALL_FILE_BYTES + 1);
  readonly #madeDirs = new Set<string>();

  constructor(files: OnePassFiles) {
    this.#files = files;
    this.paths = files.count === 0 ? [] : files.paths.split("\0");
    this.#states = new Uint8Array(files.states);
    this.#digests = new Uint8Array(files.digests);
    this.#counters = new Int32Array(files.counters);
  }

  /**
   * Claims the next batch and uploads it; a file that cannot be opened or read stops the
   * claiming on both threads, and what is left then stays unclaimed (state 0).
   *
   * @returns false when nothing was left to claim, or the claiming stopped
   * @throws a store error, having stopped the claiming
   */
  uploadNextBatch(): boolean {
    const { count } = this.#files;
    const counters = this.#counters;
    if (Atomics.load(counters, STOP) !== 0) return false;
    const start = Atomics.add(counters, NEXT, CLAIM_BATCH);
    if (start >= count) return false;
    try {
      for (let k = start; k < Math.min(start + CLAIM_BATCH, count); k++) {
        if (Atomics.load(counters, STOP) !== 0) return false;
        Atomics.store(this.#states, k, this.#upload(k));
      }
    } catch (error) {
      Atomics.store(counters, STOP, 1);
      throw error;
    }
    return true;
  }

  /** @returns the file's state, having written its digest and stamp if it is not left over */
  #upload(k: number): number {
    const path = this.paths[k]!;
    if (compressionSuffixOf(path)) return ONE_PASS_LEFT;
    const length = this.#read(path, k);
    if (length === LEFT_OVER) return ONE_PASS_LEFT;
    if (length === UNREADABLE) {
      Atomics.store(this.#counters, STOP, 1);
      return ONE_PASS_LEFT;
    }
    const bytes = this.#buffer.subarray(0, length);
    const digest = this.#digests.subarray(k * 32, k * 32 + 32);
    Bun.SHA256.hash(bytes, digest);
    const hex = this.checksumOf(k);
    if (this.#isStored(hex, digest)) return ONE_PASS_PRESENT;
    this.#store(hex, bytes);
    return ONE_PASS_STORED;
  }

  /** File `k`'s checksum, once hashed. */
  checksumOf(k: number): string {
    return Buffer.from(this.#files.digests, k * 32, 32).toString("hex");
  }

  /** Reads small regular file `k` whole into the buffer, and its stamp. */
  #read(path: string, k: number): number {
    let fd: number;
    try {
      if (this.#files.listedRegular[k] !== 1 && !statSync(path).isFile()) return LEFT_OVER;
      fd = openSync(path, "r");
    } catch {
      return UNREADABLE;
    }
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile() || stats.size > SMALL_FILE_BYTES) return LEFT_OVER;
      const at = k * STAMP_FIELDS;
      const stamps = this.#files.stamps;
      stamps[at] = stats.dev;
      stamps[at + 1] = stats.ino;
      stamps[at + 2] = stats.size;
      stamps[at + 3] = stats.mtimeMs;
      stamps[at + 4] = stats.ctimeMs;
      // One byte more than its size: a file that grew (or shrank) since its fstat is left over.
      const wanted = stats.size + 1;
      let done = 0;
      while (done < wanted) {
        const asked = wanted - done;
        const n = readSync(fd, this.#buffer, done, asked, done);
        done += n;
        if (n < asked) break; // a regular file reads short only at its end: no read of 0 bytes to see it
      }
      return done === stats.size ? done : LEFT_OVER;
    } catch {
      return UNREADABLE;
    } finally {
      closeSync(fd);
    }
  }

  #isStored(hex: string, digest: Uint8Array): boolean {
    if (trivialBuffer(hex)) return true;
    const prefix = ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
    const listed = this.#files.storedPrefixes;
    if (listed && !sortedHas(listed, prefix)) return false;
    const target = this.#target(hex);
    return existsSync(target) || existsSync(`${target}.zst`) || existsSync(`${target}.gz`);
  }

  #store(hex: string, bytes: Uint8Array): void {
    const prefix = hex.slice(0, 2);
    if (!this.#madeDirs.has(prefix)) {
      mkdirSync(`${this.#files.storeDirectory}/${prefix}`, { recursive: true });
      this.#madeDirs.add(prefix);
    }
    writeFileAtomic(this.#target(hex), bytes, this.#files.fileMode);
  }

  #target(hex: string): string {
    return `${this.#files.storeDirectory}/${hex.slice(0, 2)}/${hex}`;
  }
}

/** What {@link OnePass.read} returns for a file left to the general upload. */
const LEFT_OVER = -1;
/** ... and for one it could not open or read: the general upload then reports the error. */
const UNREADABLE = -2;

function sortedHas(sorted: Uint32Array, value: number): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const probe = sorted[middle]!;
    if (probe === value) return true;
    if (probe < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}
