/**
 * Checksums of files and directories as the Seamless CLI computes them (cli-spec §3.12):
 * raw bytes, decompressed for `.zst`/`.gz` names; directories as deep indexes.
 * @module
 */
import { SeamlessError } from "../errors.ts";
import { lstatSync, readdirSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { fsPromises } from "../disk/lazy-node.ts";
import { forEachAdaptive } from "../concurrency/map-concurrent.ts";
import type { Checksum } from "./checksum.ts";
import { computeChecksum, hashFileRawAsync } from "./sha256.ts";
import { compressionSuffixOf, stripCompressionSuffix } from "./compression.ts";
import { hashFileContent, SMALL_FILE_BYTES, type FileChecksum } from "./file-content.ts";
import { hashFilesOnAllCores, hashThreads } from "./hash-pool.ts";
import { fileSetOfFiles, stampOf, type FileSet, type StampQuery, type StatCache } from "./stat-cache.ts";
import { serializeDeepIndex, type DeepIndex } from "./sidecar.ts";

export { hashFileContent, type FileChecksum } from "./file-content.ts";

/** Options of {@link checksumFile} and {@link checksumFileAsync}. */
export interface ChecksumFileOptions {
  /** Keep the bytes of a small file ({@link FileChecksum.bytes}). */
  keepSmallBytes?: boolean;
  /** The file's `stat`, if the caller has it. */
  stats?: Stats;
  /** The caller found no stat-cache entry already: hash (and record) without looking again. */
  knownMiss?: boolean;
}

/**
 * Computes a file's checksum, using the stat cache when the file has not changed.
 *
 * @param path the file
 * @param cache optional stat cache; consulted for files of at least its `minBytes`
 * @returns checksum and buffer length
 */
export function checksumFile(path: string, cache?: StatCache | null, options: ChecksumFileOptions = {}): FileChecksum {
  const stats = options.stats ?? (cache ? statSync(path) : null);
  const statCache = cache && stats && stats.size >= cache.minBytes ? cache : null;
  if (statCache && stats && !options.knownMiss) {
    const cached = statCache.lookup(stampOf(stats), compressionSuffixOf(path) !== null);
    if (cached) return cachedResult(path, stats, cached);
  }
  // Taken before reading: a change during hashing then falls inside the racy margin.
  const recordedMs = statCache?.now() ?? 0;
  const result = hashFileContent(path, stats?.size ?? null, options.keepSmallBytes);
  if (statCache && stats) statCache.record(stampOf(stats), compressionSuffixOf(path) !== null, result.checksum, recordedMs);
  return result;
}

function cachedResult(path: string, stats: Stats, checksum: Checksum): FileChecksum {
  return { checksum, length: compressionSuffixOf(path) ? -1 : stats.size, fromStatCache: true };
}

/**
 * Async {@link checksumFile}: small files are read with async I/O so that many can be hashed
 * concurrently; large ones are hashed while their next chunk is read ({@link hashFileRawAsync}).
 */
export async function checksumFileAsync(path: string, cache: StatCache | null, options: ChecksumFileOptions = {}): Promise<FileChecksum> {
  const stats = options.stats ?? (await fsPromises().stat(path));
  if (compressionSuffixOf(path)) return checksumFile(path, cache, { ...options, stats });
  const statCache = cache && stats.size >= cache.minBytes ? cache : null;
  if (statCache && !options.knownMiss) {
    const cached = statCache.lookup(stampOf(stats), false);
    if (cached) return cachedResult(path, stats, cached);
  }
  const recordedMs = statCache?.now() ?? 0;
  let result: FileChecksum;
  if (stats.size > SMALL_FILE_BYTES) result = await hashFileRawAsync(path);
  else {
    const bytes = await fsPromises().readFile(path);
    result = { checksum: computeChecksum(bytes), length: bytes.byteLength };
    if (options.keepSmallBytes) result.bytes = bytes;
  }
  statCache?.record(stampOf(stats), false, result.checksum, recordedMs);
  return result;
}

/**
 * The stat-cache queries of files, for a set lookup ({@link fileSetOf}) and a prefetch alike.
 *
 * @param paths files, not directories
 */
export function stampQueriesOf(paths: readonly string[], stats: readonly Stats[]): StampQuery[] {
  return paths.map((path, index) => ({ stamp: stampOf(stats[index]!), decompress: compressionSuffixOf(path) !== null }));
}

/** The results of files whose checksums a set lookup ({@link StatCache.lookupSet}) answered. */
export function resultsOfKnownSet(paths: readonly string[], stats: readonly Stats[], checksums: readonly Checksum[]): FileChecksum[] {
  return checksums.map((checksum, index) => cachedResult(paths[index]!, stats[index]!, checksum));
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
 * Many large files together are hashed on every core from this many bytes on; below it, one
 * thread is done before the workers have started (~4 ms each).
 */
const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;

/** Options of {@link checksumFiles}. */
export interface ChecksumFilesOptions {
  /** Keep the bytes of small files, up to this many bytes in all ({@link FileChecksum.bytes}). */
  keepSmallBytesUpTo?: number;
  /** Hash large files on every core once they add up to this many bytes (default 64 MiB). */
  parallelFromBytes?: number;
  /** Called with each result as soon as it is known (what was done before an error stays done). */
  onResult?: (index: number, result: FileChecksum) => void;
  /**
   * The caller already looked these files up as part of a larger set and prefetched their
   * entries: skip both, and do not remember them as a set of their own.
   */
  lookedUpByCaller?: boolean;
}

/**
 * Checksums of many files, stat cache first (as a set, then per file, with one prefetch). Files over 1 MiB that are left to hash go to
 * every core ({@link hashFilesOnAllCores}) when they add up to {@link PARALLEL_MIN_BYTES};
 * the others go through {@link checksumFile}, synchronously or with async reads, whichever
 * the disk answers faster.
 *
 * @param paths the files
 * @param stats their `stat`, same order
 * @returns one result per file, in input order
 */
export async function checksumFiles(paths: readonly string[], stats: readonly Stats[], statCache: StatCache | null, options: ChecksumFilesOptions = {}): Promise<FileChecksum[]> {
  let set: FileSet | null = null;
  if (statCache && !options.lookedUpByCaller) {
    // The set first: when it answers, fetching the files' own entries would be wasted.
    set = fileSetOfFiles(stats, paths);
    const known = set && statCache.lookupSet(set);
    if (known) {
      const results = resultsOfKnownSet(paths, stats, known);
      results.forEach((result, index) => options.onResult?.(index, result));
      return results;
    }
    statCache.prefetch(stampQueriesOf(paths, stats));
  }
  // Taken before reading, for the set as for each file (the racy rule of the stat cache).
  const recordedMs = statCache?.now() ?? 0;
  const results = new Array<FileChecksum>(paths.length);
  let budget = options.keepSmallBytesUpTo ?? 0;
  const keep = (result: FileChecksum, index: number) => {
    if (result.bytes) budget -= result.bytes.byteLength;
    results[index] = result;
    options.onResult?.(index, result);
  };
  const large: number[] = [];
  const rest: number[] = [];
  let largeBytes = 0;
  // Stat-cache hits first, in one tight loop: on an unchanged tree that is all the work.
  const minBytes = statCache?.minBytes ?? 0;
  for (const [index, path] of paths.entries()) {
    const stat = stats[index]!;
    const cached = statCache && stat.size >= minBytes ? statCache.lookup(stampOf(stat), compressionSuffixOf(path) !== null) : null;
    if (cached) keep(cachedResult(path, stat, cached), index);
    else if (stat.size <= SMALL_FILE_BYTES) rest.push(index);
    else {
      large.push(index);
      largeBytes += stat.size;
    }
  }
  if (large.length >= 2 && largeBytes >= (options.parallelFromBytes ?? PARALLEL_MIN_BYTES) && hashThreads() > 1) {
    const hashed = await hashFilesOnAllCores(large.map((index) => ({ path: paths[index]!, size: stats[index]!.size })));
    for (const [k, index] of large.entries()) {
      statCache?.record(stampOf(stats[index]!), compressionSuffixOf(paths[index]!) !== null, hashed[k]!.checksum, recordedMs);
      keep(hashed[k]!, index);
    }
  } else {
    // One at a time, each read ahead while it is hashed.
    for (const index of large) keep(await checksumFileAsync(paths[index]!, statCache, { stats: stats[index]!, knownMiss: true }), index);
  }
  await forEachAdaptive(
    rest,
    (index) => keep(checksumFile(paths[index]!, statCache, { stats: stats[index]!, keepSmallBytes: budget > 0, knownMiss: true }), index),
    async (index) => keep(await checksumFileAsync(paths[index]!, statCache, { stats: stats[index]!, keepSmallBytes: budget > 0, knownMiss: true }), index),
  );
  if (statCache && set) statCache.recordSet(set, results.map((result) => result.checksum), recordedMs);
  return results;
}


/** A file found in a directory, not hashed yet. */
export interface ListedFile {
  /** Index key: relative POSIX path with the compression suffix removed. */
  key: string;
  path: string;
  stats: Stats;
}

/**
 * Lists a directory's files like Python `os.walk(followlinks=False)`: hidden files included,
 * symlinked files read through the link, symlinked directories not descended.
 */
export function listDirectoryFiles(dir: string): ListedFile[] {
  const found: ListedFile[] = [];
  const visit = (absolute: string, relative: string) => {
    for (const entry of readdirSync(absolute, { withFileTypes: true })) {
      const path = join(absolute, entry.name);
      if (entry.name.includes("\uFFFD") && !isValidUtf8Name(path)) {
        // Read with U+FFFD in place of its bad bytes: the name cannot be opened or be a JSON key (Python fails on it too).
        throw new SeamlessError(`Cannot index directory "${dir}": the name ${JSON.stringify(path)} is not valid UTF-8 and cannot be an index key`, { hint: "rename it" });
      }
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        visit(path, rel);
        continue;
      }
      let stats: Stats;
      try {
        stats = statSync(path);
      } catch (error) {
        if (!entry.isSymbolicLink()) throw error;
        stats = lstatSync(path); // a dangling link: hashing it fails below, as in Python
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
  refuseUnrestorableNames(dir, found);
  return found;
}

/**
 * Refuses a directory holding names that an index cannot give back as they are, before anything
 * is stored or moved: download would write other names, and `upload --move` would lose data.
 * Two names whose keys collide (`a.txt` and `a.txt.gz`: keys drop the compression suffix)
 * would keep only one file. (Names that are not valid UTF-8 are refused while listing.)
 */
function refuseUnrestorableNames(dir: string, found: ListedFile[]): void {
  let seen: Map<string, string> | null = null;
  for (const file of found) {
    if (compressionSuffixOf(file.path) !== null) {
      // Only a stripped suffix can make keys collide: the full map is built only then.
      seen ??= new Map(found.filter((other) => compressionSuffixOf(other.path) === null).map((other) => [other.key, other.path]));
      const other = seen.get(file.key);
      if (other !== undefined) {
        throw new SeamlessError(`Cannot index directory "${dir}": "${other}" and "${file.path}" would both be stored as "${file.key}" (index keys drop .gz/.zst)`, {
          hint: "rename one of them",
        });
      }
      seen.set(file.key, file.path);
    }
  }
}

/** Whether a path's last name, read as raw bytes from its directory, is valid UTF-8. */
function isValidUtf8Name(path: string): boolean {
  const slash = path.lastIndexOf("/");
  const shown = path.slice(slash + 1);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const raw of readdirSync(path.slice(0, slash), { encoding: "buffer" })) {
    let name: string;
    try {
      name = decoder.decode(raw);
    } catch {
      if (raw.toString("utf8") === shown) return false;
      continue;
    }
    if (name === shown) return true;
  }
  return true;
}

/**
 * Walks a directory ({@link listDirectoryFiles}) and hashes its files on this thread.
 *
 * @param dir the directory
 * @param statCache optional stat cache
 * @returns the files with their keys and checksums, in walk order
 */
export function walkDirectory(dir: string, statCache?: StatCache | null): IndexedFile[] {
  const found = listDirectoryFiles(dir);
  // One batched fetch, so that the lookups that follow need no query each.
  statCache?.prefetch(stampQueriesOf(found.map((file) => file.path), found.map((file) => file.stats)));
  return found.map(({ key, path, stats }) => {
    const { checksum, length } = checksumFile(path, statCache, { stats });
    return { key, path, checksum, length };
  });
}

/** A directory's deep index, its index buffer and the buffer's checksum. */
export interface DirectoryIndex {
  files: IndexedFile[];
  index: DeepIndex;
  indexBuffer: Uint8Array;
  checksum: Checksum;
}

/** The deep index of a directory, hashed on this thread (for commands that hash a few inputs). */
export function indexDirectory(dir: string, statCache?: StatCache | null): DirectoryIndex {
  return directoryIndexOf(walkDirectory(dir, statCache));
}

/** {@link indexDirectory} for big trees: files hashed with {@link checksumFiles} (every core for large ones). */
export async function indexDirectoryAsync(dir: string, statCache: StatCache | null): Promise<DirectoryIndex> {
  const found = listDirectoryFiles(dir);
  const paths = found.map((file) => file.path);
  const stats = found.map((file) => file.stats);
  const hashed = await checksumFiles(paths, stats, statCache);
  return directoryIndexOf(found.map(({ key, path }, i) => ({ key, path, checksum: hashed[i]!.checksum, length: hashed[i]!.length })));
}

/** The deep index of a directory's hashed files (in any order: the index sorts its keys). */
export function directoryIndexOf(files: IndexedFile[]): DirectoryIndex {
  const index: DeepIndex = Object.create(null);
  for (const file of files) index[file.key] = file.checksum;
  const indexBuffer = serializeDeepIndex(index);
  return { files, index, indexBuffer, checksum: computeChecksum(indexBuffer) };
}
