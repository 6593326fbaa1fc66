/**
 * Checksums of files and directories as the Seamless CLI computes them (cli-spec §3.12):
 * raw bytes, decompressed for `.zst`/`.gz` names; directories as deep indexes.
 * @module
 */
import { lstatSync, readdirSync, readFileSync, statSync, type BigIntStats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Checksum } from "./checksum.ts";
import { hashFileRaw, computeChecksum } from "./sha256.ts";
import { compressionSuffixOf, decompress, stripCompressionSuffix } from "./compression.ts";
import { stampOf, type StatCache } from "./stat-cache.ts";
import { serializeDeepIndex, type DeepIndex } from "./sidecar.ts";

/** A hashed file: its checksum (of the decompressed bytes) and that buffer's length, if known. */
export interface FileChecksum {
  checksum: Checksum;
  /** Length of the (decompressed) buffer; -1 when it came from the stat cache of a compressed file. */
  length: number;
  /**
   * The bytes that were hashed, kept for small files when asked (`keepSmallBytes`), so that a
   * store can write them without reading and hashing the file again.
   */
  bytes?: Uint8Array;
  /** The file is unchanged since it was last hashed: its sidecar most likely exists. */
  fromStatCache?: true;
}

/** Files up to this size are read whole (one read instead of a chunk loop). */
const SMALL_FILE_BYTES = 1024 * 1024;

/**
 * Computes a file's checksum, using the stat cache when the file has not changed.
 *
 * @param path the file
 * @param cache optional stat cache; consulted for files of at least its `minBytes`
 * @returns checksum and buffer length
 */
export function checksumFile(path: string, cache?: StatCache | null, options: { keepSmallBytes?: boolean; stats?: BigIntStats } = {}): FileChecksum {
  const suffix = compressionSuffixOf(path);
  const stats = options.stats ?? (cache ? statSync(path, { bigint: true }) : null);
  const statCache = cache && stats && stats.size >= BigInt(cache.minBytes) ? cache : null;
  if (statCache && stats) {
    const cached = statCache.lookup(stampOf(stats), suffix !== null);
    if (cached) return { checksum: cached, length: suffix ? -1 : Number(stats.size), fromStatCache: true };
  }
  // Taken before reading: a change during hashing then falls inside the racy margin.
  const recordedNs = BigInt(Date.now()) * 1_000_000n;
  let result: FileChecksum;
  if (suffix) {
    const bytes = decompress(readFileSync(path), suffix);
    result = { checksum: computeChecksum(bytes), length: bytes.byteLength };
    if (options.keepSmallBytes && bytes.byteLength <= SMALL_FILE_BYTES) result.bytes = bytes;
  } else if (stats && stats.size <= BigInt(SMALL_FILE_BYTES)) {
    const bytes = readFileSync(path);
    result = { checksum: computeChecksum(bytes), length: bytes.byteLength };
    if (options.keepSmallBytes) result.bytes = bytes;
  } else {
    result = hashFileRaw(path);
  }
  if (statCache && stats) statCache.record(stampOf(stats), suffix !== null, result.checksum, recordedNs);
  return result;
}

/**
 * Async {@link checksumFile}: small files are read with async I/O so that many can be hashed
 * concurrently; large ones stream synchronously (they are bound by throughput, not latency).
 */
export async function checksumFileAsync(path: string, cache: StatCache | null, options: { keepSmallBytes?: boolean; stats?: BigIntStats } = {}): Promise<FileChecksum> {
  const stats = options.stats ?? (await stat(path, { bigint: true }));
  if (compressionSuffixOf(path) || stats.size > BigInt(SMALL_FILE_BYTES)) return checksumFile(path, cache, { ...options, stats });
  const statCache = cache && stats.size >= BigInt(cache.minBytes) ? cache : null;
  if (statCache) {
    const cached = statCache.lookup(stampOf(stats), false);
    if (cached) return { checksum: cached, length: Number(stats.size), fromStatCache: true };
  }
  const recordedNs = BigInt(Date.now()) * 1_000_000n;
  const bytes = await readFile(path);
  const result: FileChecksum = { checksum: computeChecksum(bytes), length: bytes.byteLength };
  if (options.keepSmallBytes) result.bytes = bytes;
  statCache?.record(stampOf(stats), false, result.checksum, recordedNs);
  return result;
}

/**
 * Fetches the stat-cache entries of many paths at once (directories among them are skipped),
 * so that the {@link checksumFile} calls that follow need no query each.
 */
export function prefetchChecksums(statCache: StatCache | null | undefined, paths: readonly string[], stats: readonly BigIntStats[]): void {
  statCache?.prefetch(paths.flatMap((path, index) => {
    const stat = stats[index]!;
    return stat.isDirectory() ? [] : [{ stamp: stampOf(stat), decompress: compressionSuffixOf(path) !== null }];
  }));
}

/** One file found while indexing a directory. */
export interface IndexedFile {
  /** Index key: relative POSIX path with the compression suffix removed. */
  key: string;
  /** Path on disk. */
  path: string;
  checksum: Checksum;
  length: number;
}

/**
 * Walks a directory like Python `os.walk(followlinks=False)`: hidden files included,
 * symlinked files read through the link, symlinked directories not descended.
 *
 * @param dir the directory
 * @param statCache optional stat cache
 * @returns the files with their keys and checksums, in walk order
 */
export function walkDirectory(dir: string, statCache?: StatCache | null): IndexedFile[] {
  const found: { key: string; path: string; stats: BigIntStats }[] = [];
  const visit = (absolute: string, relative: string) => {
    for (const entry of readdirSync(absolute, { withFileTypes: true })) {
      const path = join(absolute, entry.name);
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        visit(path, rel);
        continue;
      }
      let stats: BigIntStats;
      try {
        stats = statSync(path, { bigint: true });
      } catch (error) {
        if (!entry.isSymbolicLink()) throw error;
        stats = lstatSync(path, { bigint: true }); // a dangling link: hashing it fails below, as in Python
      }
      if (stats.isDirectory()) {
        if (entry.isSymbolicLink()) continue; // os.walk lists it but does not descend
        visit(path, rel); // a filesystem that reports no entry types
        continue;
      }
      found.push({ key: stripCompressionSuffix(rel), path, stats });
    }
  };
  visit(dir, "");
  prefetchChecksums(statCache, found.map((file) => file.path), found.map((file) => file.stats));
  return found.map(({ key, path, stats }) => {
    const { checksum, length } = checksumFile(path, statCache, { stats });
    return { key, path, checksum, length };
  });
}

/** The deep index of a directory, its index buffer and the buffer's checksum. */
export function indexDirectory(dir: string, statCache?: StatCache | null): {
  files: IndexedFile[];
  index: DeepIndex;
  indexBuffer: Uint8Array;
  checksum: Checksum;
} {
  const files = walkDirectory(dir, statCache);
  const index: DeepIndex = Object.create(null);
  for (const file of files) index[file.key] = file.checksum;
  const indexBuffer = serializeDeepIndex(index);
  return { files, index, indexBuffer, checksum: computeChecksum(indexBuffer) };
}
