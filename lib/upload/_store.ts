/**
 * Storing an upload's missing buffers and writing its sidecars, on two threads when the plan has
 * a helper holding new small files in shared memory (see {@link storeAndWriteSidecars}).
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import { storeBuffers, type BufferSource } from "../buffers/transfer.ts";
import { forEachAdaptive, IO_CONCURRENCY, mapConcurrent } from "../concurrency/map-concurrent.ts";
import type { UploadHelper } from "./_helper.ts";
import { StoreClaims, sharedStoresOf } from "./_shared-store.ts";
import { sidecarWriters, writeSidecars, type SidecarFile, type SidecarWriteOptions } from "./_sidecars.ts";

/** Bytes in the shared memory of the plan's helper ({@link hashClaimed}), which it can store. */
type SharedSource = { checksum: Checksum; length: number; bytes: Uint8Array<SharedArrayBuffer> };

/** Options of {@link storeAndWriteSidecars}. */
export interface StoreOptions extends SidecarWriteOptions {
  onProgress?: (bytes: number) => void;
  /** Work for this thread while the helper stores, before the sidecars (it then has a head start). */
  meanwhile?: () => void;
  /** The plan's helper thread, if it has one. */
  helper?: UploadHelper | null;
}

/**
 * Stores the buffers that {@link findMissing} reported missing, then writes the sidecars
 * ({@link staleSidecars}, or all of {@link sidecarFilesOf} with `compare`). With the plan's
 * helper and a local buffer directory the two run together: the helper writes the buffers in
 * shared memory into the prefix directories while this thread writes the sidecars, each one
 * only after the buffer it names is stored, and stores buffers too whenever it has caught up.
 * Files created in different directories do not slow each other down as files created in one
 * directory do (BENCHMARKS.md, seventh session).
 */
export async function storeAndWriteSidecars(store: BufferStore, missing: BufferSource[], sidecars: SidecarFile[], options: StoreOptions = {}): Promise<void> {
  const { onProgress, helper } = options;
  const handed = missing.filter((source): source is SharedSource => "bytes" in source && source.bytes.buffer instanceof SharedArrayBuffer);
  const local = store.local;
  if (!helper || !local || handed.length === 0) {
    await storeBuffers(store, missing, onProgress);
    await writeSidecars(sidecars, options);
    return;
  }
  const handedSet = new Set<BufferSource>(handed);
  await storeBuffers(store, missing.filter((source) => !handedSet.has(source)), onProgress);
  local._preparePrefixDirs(handed.map((source) => source.checksum));
  const stores = sharedStoresOf(handed.map((source) => source.bytes), handed.map((source) => local.pathFor(source.checksum)), local.fileMode);
  const stored = helper.store(stores);
  stored.catch(() => {}); // awaited below
  options.meanwhile?.();
  const positions = new Map(handed.map((source, position) => [source.checksum, position]));
  try {
    await writeSidecarsWhileStoring(sidecars, (file) => (file.directory ? ALL_BUFFERS : (positions.get(file.names) ?? -1)), new StoreClaims(stores), stored, options);
  } catch (error) {
    await stored.catch(() => {}); // the helper stops at its next claim: storing is marked failed
    throw error;
  }
  await stored;
}

/** The position {@link writeSidecarsWhileStoring} takes for a sidecar that must wait for every buffer. */
const ALL_BUFFERS = Number.POSITIVE_INFINITY;

/**
 * {@link writeSidecars}, each sidecar once the buffer it names is stored; when the next one is
 * not, this thread stores the next batch of buffers itself, and waits only when the helper holds
 * every claim left. The sidecars of directories come last (`.INDEX` before `.CHECKSUM`), once
 * every buffer is stored. Stops when storing fails, on either thread.
 *
 * @param positionOf the buffer's position among the shared stores, -1 when it is stored
 *   already, or {@link ALL_BUFFERS}
 */
async function writeSidecarsWhileStoring(files: SidecarFile[], positionOf: (file: SidecarFile) => number, claims: StoreClaims, stored: Promise<void>, options: SidecarWriteOptions): Promise<void> {
  const { writeSync, writeAsync } = sidecarWriters(options);
  const ready = (file: SidecarFile) => {
    const position = positionOf(file);
    return position < 0 || (position === ALL_BUFFERS ? claims.allStored() : claims.isStored(position));
  };
  let useAsync: boolean | null = null;
  for (const batch of [files.filter((file) => !file.directory), files.filter((file) => file.directory)]) {
    let next = 0;
    while (next < batch.length) {
      const seen = claims.changes;
      if (claims.failed) return; // the caller's await of `stored` throws the helper's error
      let end = next;
      while (end < batch.length && ready(batch[end]!)) end++;
      if (end === next) {
        if (!claims.storeNextBatch()) await Promise.race([claims.changeFrom(seen), stored]);
        continue;
      }
      const writable = batch.slice(next, end);
      if (useAsync === null) useAsync = await forEachAdaptive(writable, writeSync, writeAsync);
      else if (useAsync) await mapConcurrent(writable, IO_CONCURRENCY, writeAsync);
      else for (const file of writable) writeSync(file);
      next = end;
    }
  }
}
