/**
 * What a buffer directory in prefix layout (services-spec §2.5) holds: every buffer with its
 * bytes on disk and its modification time, or, for `seamless stats`, an estimate from a sample
 * of the 256 prefix directories when the store is large.
 * @module
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";

/** One stored buffer: its files (plain, `.zst`, `.gz`, `.BUFFERLENGTH`) counted together. */
export interface StoredBuffer {
  checksum: Checksum;
  /** Bytes on disk, every file of the buffer together. */
  bytes: number;
  /** The newest modification time of its files. */
  mtimeMs: number;
  paths: string[];
}

const PREFIXES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
const BUFFER_NAME = /^([0-9a-f]{64})(\.zst|\.gz|\.BUFFERLENGTH)?$/;

/** The names of one prefix directory (none when it does not exist). */
function namesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Every buffer in a prefix-layout directory, with sizes and times (one `stat` per file).
 * Temp files (`.name.pid.n.tmp`) and markers are not buffers.
 *
 * @param storeDir the buffer directory
 * @returns buffers by checksum
 */
export function inventoryBuffers(storeDir: string): Map<Checksum, StoredBuffer> {
  const buffers = new Map<Checksum, StoredBuffer>();
  for (const prefix of PREFIXES) {
    const dir = join(storeDir, prefix);
    for (const name of namesOf(dir)) {
      const match = BUFFER_NAME.exec(name);
      if (!match) continue;
      const path = join(dir, name);
      let size: number;
      let mtimeMs: number;
      try {
        const stats = statSync(path);
        size = stats.size;
        mtimeMs = stats.mtimeMs;
      } catch {
        continue; // removed meanwhile
      }
      const checksum = match[1]!;
      const known = buffers.get(checksum);
      if (known) {
        known.bytes += size;
        known.mtimeMs = Math.max(known.mtimeMs, mtimeMs);
        known.paths.push(path);
      } else buffers.set(checksum, { checksum, bytes: size, mtimeMs, paths: [path] });
    }
  }
  return buffers;
}

/** A store's size, exact or estimated. */
export interface StoreSize {
  buffers: number;
  bytes: number;
  /** True when counted from a sample of prefix directories. */
  estimated: boolean;
}

/**
 * The number and bytes of the buffers in a store. Up to `exactBelow` buffers (judged from one
 * prefix directory) every file is counted; above, enough prefix directories for about
 * `sampleFiles` files stand for all 256, as buffer names are spread evenly over them (1M
 * buffers: 2 directories, ~8,000 files, a count within ~1%).
 */
export function measureStore(storeDir: string, options: { exactBelow?: number; sampleFiles?: number } = {}): StoreSize {
  const exactBelow = options.exactBelow ?? 10_000;
  const perPrefix = namesOf(join(storeDir, PREFIXES[0]!)).length;
  const sampled = Math.min(256, Math.max(1, Math.ceil((options.sampleFiles ?? 8_000) / Math.max(1, perPrefix))));
  const step = Math.floor(256 / sampled);
  const prefixes = perPrefix * 256 < exactBelow ? PREFIXES : PREFIXES.filter((_, i) => i % step === 0).slice(0, sampled);
  let buffers = 0;
  let bytes = 0;
  for (const prefix of prefixes) {
    const dir = join(storeDir, prefix);
    for (const name of namesOf(dir)) {
      const match = BUFFER_NAME.exec(name);
      if (!match) continue;
      if (match[2] !== ".BUFFERLENGTH") buffers++;
      try {
        bytes += statSync(join(dir, name)).size;
      } catch {}
    }
  }
  const factor = 256 / prefixes.length;
  return { buffers: Math.round(buffers * factor), bytes: Math.round(bytes * factor), estimated: factor !== 1 };
}
