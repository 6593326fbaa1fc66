/**
 * Making buffers present in a store (cli-spec §4, the run's inputs of §3): find with one batched
 * check what the store lacks, then store it. Shared by `upload` (lib/upload) and `run`.
 * @module
 */
import { statSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import { forEachAdaptive, mapConcurrent } from "../concurrency/map-concurrent.ts";
import type { BufferStore } from "./store.ts";

/** One buffer to make present: from a file on disk, or from bytes (an index buffer). */
export type BufferSource = { checksum: Checksum; length: number; path: string } | { checksum: Checksum; length: number; bytes: Uint8Array };

/** The buffers of a plan that the store lacks, found with one batched check. */
export async function findMissing(store: BufferStore, plan: { buffers: Map<Checksum, BufferSource> }): Promise<BufferSource[]> {
  const sources = [...plan.buffers.values()];
  const present = await store.has(sources.map((s) => s.checksum));
  const local = store.local;
  if (local && sources.length <= LENGTH_CHECKED_UP_TO) {
    // A stored buffer of the wrong length (a short write of an older build, a full disk) is
    // dropped and stored again: one `stat` each, for runs and small uploads.
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i]!;
      if (present[i] && source.length >= 0 && local._dropIfWrongLength(source.checksum, source.length)) present[i] = false;
    }
  }
  return sources.filter((_, i) => !present[i]);
}

/** {@link findMissing} checks the stored length of present buffers for plans up to this size. */
const LENGTH_CHECKED_UP_TO = 256;

/** Length in bytes of a source, measuring compressed files if needed. */
export function sourceLength(source: BufferSource): number {
  if (source.length >= 0) return source.length;
  return "path" in source ? statSync(source.path).size : "bytes" in source ? source.bytes.byteLength : 0;
}

/** Stores buffers that {@link findMissing} just reported missing (existence is not checked again). */
export async function storeBuffers(store: BufferStore, sources: BufferSource[], onProgress?: (bytes: number) => void): Promise<void> {
  const local = store.local;
  if (local) {
    for (const source of sources) if ("path" in source) local.putFileSync(source.checksum, source.path, onProgress);
    const small = sources.filter((source): source is Extract<BufferSource, { bytes: Uint8Array }> => "bytes" in source);
    local._preparePrefixDirs(small.map((source) => source.checksum));
    // The bytes of a plan were hashed by this process, and findMissing found them missing.
    await forEachAdaptive(small, (source) => local._putHashedSync(source.checksum, source.bytes), (source) => local._putHashedAsync(source.checksum, source.bytes));
    return;
  }
  // A few requests in flight hide round-trip latency without flooding the server.
  await mapConcurrent(sources, 8, async (source) => {
    if ("path" in source) await store.putFile(source.checksum, source.path, onProgress);
    else await store.put(source.checksum, source.bytes);
  });
}
