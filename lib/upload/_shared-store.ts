/**
 * Buffers in shared memory ({@link ./shared-hash.ts}) stored by two threads at once. The helper
 * stores them while the main thread writes the sidecars; the main thread writes a sidecar only
 * once the buffer it names is stored, and when it catches up with the helper it claims the next
 * batch of buffers itself instead of waiting. Whoever stored a buffer, its state byte says so.
 * Imported by the upload worker: no heavy imports.
 * @module
 */
import { writeFileAtomic } from "../disk/atomic-write.ts";
import { CLAIM_BATCH } from "./_shared-hash.ts";

/** Int32 slots of {@link SharedStores.counters}. */
const NEXT = 0;
/** Counts batches stored and failures; each change is notified, for a thread waiting on the other. */
const CHANGES = 1;
const FAILED = 2;

/** Buffers to write into their targets (the directories exist), and the memory that tracks them. */
export interface SharedStores {
  /** The target paths joined by NUL: posting one string costs ~0.2 ms, an array of 10k strings ~6 ms. */
  targets: string;
  count: number;
  /** Where each buffer is in {@link bytes}. */
  offsets: Float64Array;
  lengths: Float64Array;
  bytes: SharedArrayBuffer;
  fileMode: number;
  /** One byte per buffer: 1 once stored. */
  states: SharedArrayBuffer;
  /** Int32 `[0]`: the next buffer to claim; `[1]`: changes (see {@link StoreClaims.changes}); `[2]`: 1 once storing failed. */
  counters: SharedArrayBuffer;
}

/** Buffers to store: views into one shared block, each with its target path. */
export function sharedStoresOf(buffers: Uint8Array<SharedArrayBuffer>[], targets: string[], fileMode: number): SharedStores {
  const offsets = new Float64Array(buffers.length);
  const lengths = new Float64Array(buffers.length);
  const block = buffers[0]?.buffer ?? new SharedArrayBuffer(0);
  for (const [k, buffer] of buffers.entries()) {
    if (buffer.buffer !== block) throw new Error("shared stores take buffers of one block of memory");
    offsets[k] = buffer.byteOffset;
    lengths[k] = buffer.byteLength;
  }
  return {
    targets: targets.join("\0"),
    count: buffers.length,
    offsets,
    lengths,
    bytes: block,
    fileMode,
    states: new SharedArrayBuffer(buffers.length),
    counters: new SharedArrayBuffer(12),
  };
}

/** One thread's access to {@link SharedStores}; each thread makes its own. */
export class StoreClaims {
  readonly #stores: SharedStores;
  readonly #bytes: Uint8Array;
  readonly #states: Uint8Array;
  readonly #counters: Int32Array<SharedArrayBuffer>;
  #targets: string[] | null = null;
  /** Every buffer before this position is stored. */
  #storedBefore = 0;

  constructor(stores: SharedStores) {
    this.#stores = stores;
    this.#bytes = new Uint8Array(stores.bytes);
    this.#states = new Uint8Array(stores.states);
    this.#counters = new Int32Array(stores.counters as SharedArrayBuffer);
  }

  /**
   * Claims the next batch and stores it, atomically per buffer.
   *
   * @returns false when nothing was left to claim, or storing failed (on either thread)
   * @throws the file error, having marked storing as failed for the other thread
   */
  storeNextBatch(): boolean {
    const { count } = this.#stores;
    if (this.failed) return false;
    const start = Atomics.add(this.#counters, NEXT, CLAIM_BATCH);
    if (start >= count) return false;
    this.#targets ??= count === 0 ? [] : this.#stores.targets.split("\0");
    const { offsets, lengths, fileMode } = this.#stores;
    try {
      for (let k = start; k < Math.min(start + CLAIM_BATCH, count); k++) {
        writeFileAtomic(this.#targets[k]!, this.#bytes.subarray(offsets[k]!, offsets[k]! + lengths[k]!), fileMode);
        Atomics.store(this.#states, k, 1);
      }
    } catch (error) {
      Atomics.store(this.#counters, FAILED, 1);
      this.#changed();
      throw error;
    }
    this.#changed();
    return true;
  }

  /** Stores batches until none are left to claim. */
  storeAll(): void {
    while (this.storeNextBatch());
  }

  /** Whether buffer `position` is stored. */
  isStored(position: number): boolean {
    return Atomics.load(this.#states, position) === 1;
  }

  /** Whether every buffer is stored. */
  allStored(): boolean {
    while (this.#storedBefore < this.#stores.count && this.isStored(this.#storedBefore)) this.#storedBefore++;
    return this.#storedBefore === this.#stores.count;
  }

  get failed(): boolean {
    return Atomics.load(this.#counters, FAILED) !== 0;
  }

  /** Counts the batches stored and failures, on both threads. */
  get changes(): number {
    return Atomics.load(this.#counters, CHANGES);
  }

  /** Resolves once {@link changes} is no longer `seen`. */
  async changeFrom(seen: number): Promise<void> {
    await Atomics.waitAsync(this.#counters, CHANGES, seen).value;
  }

  #changed(): void {
    Atomics.add(this.#counters, CHANGES, 1);
    Atomics.notify(this.#counters, CHANGES);
  }
}
