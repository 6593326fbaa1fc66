/**
 * Fingertipping (services-spec §6.6): a buffer that is missing everywhere is recomputed from a
 * transformation that produced it (the database's reverse lookup), recursively for missing
 * inputs, and verified against its checksum.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import type { BufferStore } from "../buffers/store.ts";
import type { ResultCache } from "../cache/store.ts";
import { NotFoundError } from "../errors.ts";
import type { Log } from "../log.ts";
import { loadTransformationDict } from "../transformation/load.ts";
import { computeTransformation } from "./compute.ts";

/** Options of {@link fingertipBuffer}. */
export interface FingertipOptions {
  store: BufferStore;
  cache: ResultCache;
  lockDir: string;
  log: Log;
  /** How deep inputs are recomputed (default 10). */
  maxDepth?: number;
}

/** The checksums of a dict's pins (`[celltype, subcelltype, checksum]`). */
function pinChecksumsOf(dict: Record<string, unknown>): Checksum[] {
  return Object.entries(dict)
    .filter(([key, value]) => !key.startsWith("__") && Array.isArray(value) && typeof value[2] === "string" && /^[0-9a-f]{64}$/.test(value[2]))
    .map(([, value]) => (value as string[])[2]!);
}

/**
 * The buffer of `checksum`: from the store, else recomputed.
 *
 * @returns the verified bytes
 * @throws {NotFoundError} when it is absent and no transformation that gave it can be recomputed
 * @example A buffer present in the store needs no recomputation
 * ```ts
 * const bytes = await fingertipBuffer(checksum, { store, cache, lockDir, log: SILENT_LOG });
 * assertEquals(computeChecksum(bytes), checksum);
 * ```
 */
export async function fingertipBuffer(checksum: Checksum, options: FingertipOptions): Promise<Uint8Array> {
  return fingertipAt(checksum, options, new Set(), 0);
}

async function fingertipAt(checksum: Checksum, options: FingertipOptions, visiting: Set<Checksum>, depth: number): Promise<Uint8Array> {
  const present = await options.store.get(checksum);
  if (present) return present;
  if (depth > (options.maxDepth ?? 10) || visiting.has(checksum)) throw new NotFoundError(`Cannot fingertip buffer "${checksum}": recomputation goes too deep or in a circle`);
  visiting.add(checksum);
  const producers = await options.cache.getTransformationsOf(checksum);
  if (producers.length === 0) throw new NotFoundError(`Cannot fingertip buffer "${checksum}": not in ${options.store.location}, and ${options.cache.location} knows no transformation that produced it`);
  const failures: string[] = [];
  for (const tf of producers) {
    try {
      const dict = await loadTransformationDict(options.store, tf);
      const inputs = pinChecksumsOf(dict as Record<string, unknown>);
      const presence = await options.store.has(inputs);
      for (const [i, input] of inputs.entries()) {
        if (presence[i]) continue;
        options.log.message(1, `Recomputing input "${input}" of transformation "${tf}"`);
        await fingertipAt(input, options, visiting, depth + 1);
      }
      options.log.message(1, `Recomputing "${checksum}" with transformation "${tf}"`);
      const computed = await computeTransformation(dict, tf, { store: options.store, cache: options.cache, lockDir: options.lockDir, scratch: false, onStdoutLine: () => {}, log: options.log });
      if (computed.checksum !== checksum) {
        failures.push(`transformation "${tf}" now gives "${computed.checksum}"`);
        continue;
      }
      const buffer = computed.buffer ?? (await options.store.get(checksum));
      if (buffer && computeChecksum(buffer) === checksum) return buffer;
      failures.push(`transformation "${tf}" gave no verifiable buffer`);
    } catch (error) {
      failures.push(`transformation "${tf}": ${(error as Error).message}`);
    }
  }
  throw new NotFoundError(`Cannot fingertip buffer "${checksum}": ${failures.join("; ")}`);
}
