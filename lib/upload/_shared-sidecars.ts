/**
 * An upload's `.CHECKSUM` sidecars, read ahead by two threads into shared memory. Re-uploading
 * an unchanged tree is mostly syscalls: a `stat` per input and an open, read and close per
 * sidecar. The kernel runs those in parallel on two threads, so the helper reads sidecars while
 * the main thread stats the inputs, and the main thread then claims what is left (as
 * {@link ./shared-hash.ts} does for hashing). Comparing the bytes with what the sidecars should
 * hold comes later and needs no syscall. Imported by the upload worker: no heavy imports.
 * @module
 */
import { readUpTo } from "../checksum/file-content.ts";
import type { Checksum } from "../checksum/checksum.ts";
import { CLAIM_BATCH } from "./_shared-hash.ts";

/**
 * Bytes kept per sidecar. A `.CHECKSUM` file holds 65; reading up to here tells a longer one
 * apart, and a sidecar that holds something else is rewritten whatever it holds.
 */
const SLOT_BYTES = 80;


/** A sidecar's state in {@link SharedSidecars.states}, besides 0: not read. */
const READ = 1;
const ABSENT = 2;

/**
 * After this many absent sidecars the reading stops: an upload of new files has none, and a
 * failed open costs an exception. The sidecars left unread are checked as without read-ahead.
 */
const ABSENT_LIMIT = 64;

/** Sidecar paths and the shared memory both threads read them into; it can be posted to a Worker. */
export interface SharedSidecars {
  /** The paths joined by NUL. */
  paths: string;
  count: number;
  /** {@link SLOT_BYTES} per sidecar. */
  bytes: SharedArrayBuffer;
  /** Bytes read per sidecar, one byte each. */
  lengths: SharedArrayBuffer;
  /** One state byte per sidecar. */
  states: SharedArrayBuffer;
  /** Int32 `[0]`: the next sidecar to claim; `[1]`: absent sidecars seen so far. */
  counters: SharedArrayBuffer;
}

/** Allocates the shared memory to read these sidecars into. */
export function sharedSidecarsOf(paths: string[]): SharedSidecars {
  return {
    paths: paths.join("\0"),
    count: paths.length,
    bytes: new SharedArrayBuffer(paths.length * SLOT_BYTES),
    lengths: new SharedArrayBuffer(paths.length),
    states: new SharedArrayBuffer(paths.length),
    counters: new SharedArrayBuffer(8),
  };
}

/** Claims and reads batches of sidecars until none are left, or until too many were absent. */
export function readClaimedSidecars(sidecars: SharedSidecars): void {
  const bytes = new Uint8Array(sidecars.bytes);
  const lengths = new Uint8Array(sidecars.lengths);
  const states = new Uint8Array(sidecars.states);
  const counters = new Int32Array(sidecars.counters);
  const { count } = sidecars;
  if (count === 0) return;
  const paths = sidecars.paths.split("\0");
  for (let start = Atomics.add(counters, 0, CLAIM_BATCH); start < count; start = Atomics.add(counters, 0, CLAIM_BATCH)) {
    if (Atomics.load(counters, 1) >= ABSENT_LIMIT) return;
    for (let k = start; k < Math.min(start + CLAIM_BATCH, count); k++) {
      try {
        lengths[k] = readUpTo(paths[k]!, bytes, k * SLOT_BYTES, SLOT_BYTES);
        states[k] = READ;
      } catch (error) {
        // Anything but absence (a directory, no permission) is left to the unshared check.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") continue;
        states[k] = ABSENT;
        Atomics.add(counters, 1, 1);
      }
    }
  }
}

/** The sidecars as read ahead, once both threads are done with {@link readClaimedSidecars}. */
export class SidecarReads {
  readonly #bytes: Buffer;
  readonly #lengths: Uint8Array;
  readonly #states: Uint8Array;
  readonly #paths: readonly string[];

  /** @param paths the paths {@link sharedSidecarsOf} was given */
  constructor(sidecars: SharedSidecars, paths: readonly string[]) {
    this.#bytes = Buffer.from(sidecars.bytes);
    this.#lengths = new Uint8Array(sidecars.lengths);
    this.#states = new Uint8Array(sidecars.states);
    this.#paths = paths;
  }

  /**
   * Whether every sidecar, at the path it was read from, held exactly the `.CHECKSUM` text of
   * its checksum (the `k`-th for sidecar `k`).
   */
  holdAll(checksums: readonly Checksum[]): boolean {
    if (checksums.length !== this.#paths.length) return false;
    // One string of every slot, searched in place: no string per sidecar.
    const all = this.#bytes.toString("latin1", 0, checksums.length * SLOT_BYTES);
    for (let k = 0; k < checksums.length; k++) {
      const at = k * SLOT_BYTES;
      const checksum = checksums[k]!;
      if (this.#states[k] !== READ || this.#lengths[k] !== checksum.length + 1 || !all.startsWith(checksum, at) || all.charCodeAt(at + checksum.length) !== 10) return false;
    }
    return true;
  }

  /**
   * Whether sidecar `k`, if it has this path, held exactly this ASCII text when read: false
   * when it was absent, undefined when it was not read (a reading error, the reading stopped,
   * or another path).
   */
  holds(k: number, path: string, text: string): boolean | undefined {
    const state = this.#states[k];
    if ((state !== READ && state !== ABSENT) || this.#paths[k] !== path) return undefined;
    if (state === ABSENT || this.#lengths[k] !== text.length) return false;
    // One native call: a loop over the bytes runs uncompiled this early in a process (~1 µs a byte).
    return this.#bytes.toString("latin1", k * SLOT_BYTES, k * SLOT_BYTES + text.length) === text;
  }
}
