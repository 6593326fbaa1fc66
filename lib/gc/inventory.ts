/**
 * What a buffer directory in prefix layout (services-spec §2.5) holds: its size (counted, or
 * estimated from a sample of the 256 prefix directories when the store is large), and one
 * buffer's files, bytes on disk and modification time.
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

/**
 * One buffer's files in a prefix-layout directory: the plain file, else its compressed forms
 * (with a `.BUFFERLENGTH` sidecar). One `stat` for a plain buffer.
 *
 * @returns the buffer, or undefined when it is not stored
 */
export function statBuffer(storeDir: string, checksum: Checksum): StoredBuffer | undefined {
  const base = join(storeDir, checksum.slice(0, 2), checksum);
  let found: StoredBuffer | undefined;
  for (const suffix of ["", ".zst", ".gz", ".BUFFERLENGTH"]) {
    let stats;
    try {
      stats = statSync(base + suffix);
    } catch {
      continue;
    }
    if (!found) found = { checksum, bytes: 0, mtimeMs: 0, paths: [] };
    found.bytes += stats.size;
    found.mtimeMs = Math.max(found.mtimeMs, stats.mtimeMs);
    found.paths.push(base + suffix);
    if (suffix === "") break; // stored plain: no compressed forms are looked for
  }
  return found;
}
