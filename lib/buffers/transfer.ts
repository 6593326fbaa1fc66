/**
 * Upload planning and execution (cli-spec §4): hash inputs, find what the store lacks with
 * one batched check, store the missing buffers, then write sidecars.
 * @module
 */
import { existsSync, linkSync, lstatSync, mkdirSync, rmSync, statSync, symlinkSync, type Stats } from "node:fs";
import { resolve as resolvePath } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import {
  checksumFiles, directoryIndexOf, listDirectoryFiles, resultsOfKnownSet, stampQueriesOf, type FileChecksum, type IndexedFile, type ListedFile,
} from "../checksum/file-checksum.ts";
import { compressionSuffixOf } from "../checksum/compression.ts";
import { fileSidecarPath, formatChecksumSidecar, holdsBytes, holdsBytesAsync } from "../checksum/sidecar.ts";
import { writeFileAtomic, writeFileAtomicAsync } from "../disk/atomic-write.ts";
import { forEachAdaptive, IO_CONCURRENCY, mapConcurrent } from "../concurrency/map-concurrent.ts";
import type { StatCache } from "../checksum/stat-cache.ts";
import { BufferDir } from "./bufferdir.ts";
import type { BufferStore } from "./store.ts";
import { ChecksumMismatchError, SeamlessError } from "../errors.ts";
import { hashFileRaw } from "../checksum/sha256.ts";
import { fileSetOfFiles, stampOf, type FileSet, type FileStamp, type StampQuery } from "../checksum/stat-cache.ts";
import { SMALL_FILE_BYTES } from "../checksum/file-content.ts";
import { hashThreads } from "../checksum/hash-pool.ts";
import { HELPER_MIN_FILES, UploadHelper } from "./upload-helper.ts";
import { hashClaimed, sharedFilesOf, sharedResults } from "./shared-hash.ts";
import { SidecarReads, readClaimedSidecars, sharedSidecarsOf, type SharedSidecars } from "./shared-sidecars.ts";
import { StoreClaims, sharedStoresOf } from "./shared-store.ts";
import { LIST_FROM, listDirectoriesOf, type DirectoryListings } from "./listed-dirs.ts";
import { STAMP_FIELDS, onePassFilesOf, storedPrefixesOf, uploadClaimedInOrder } from "./one-pass.ts";

/** One buffer to make present: from a file on disk, or from bytes (an index buffer). */
export type BufferSource = { checksum: Checksum; length: number; path: string } | { checksum: Checksum; length: number; bytes: Uint8Array };

/** Bytes in the shared memory of the plan's helper ({@link hashClaimed}), which it can store. */
type SharedSource = { checksum: Checksum; length: number; bytes: Uint8Array<SharedArrayBuffer> };

/** A buffer an upload plan will store. */
export type UploadSource = BufferSource;

/** How many bytes of small files an upload plan may keep in memory. */
const MAX_RETAINED_BYTES = 256 * 1024 * 1024;

/** What an upload will write afterwards. */
export interface SidecarWrite {
  /** Path of the `.CHECKSUM` file. */
  checksumPath: string;
  checksum: Checksum;
  /** For directories: the `.INDEX` path and bytes. */
  index?: { path: string; bytes: Uint8Array };
  /** The input was unchanged since last hashed, so the sidecar is probably there already. */
  likelyExists?: boolean;
  /**
   * Whether the `.CHECKSUM` file holds what it should, when read ahead ({@link SidecarReads});
   * false too when its directory was listed without it ({@link DirectoryListings}).
   */
  heldAlready?: boolean;
}

/** A hashed set of inputs. */
export interface UploadPlan {
  buffers: Map<Checksum, UploadSource>;
  sidecars: SidecarWrite[];
  /** Top-level paths, for --move. */
  paths: string[];
  /** The second thread, for buffers in shared memory ({@link hashClaimed}); close it when done. */
  helper: UploadHelper | null;
  /**
   * Records and commits in the stat cache what planning hashed and has not recorded yet. Call
   * it once the plan is carried out, or earlier at a moment when this thread would otherwise
   * wait ({@link StoreOptions.meanwhile}); later calls do nothing.
   */
  recordStatCache: () => void;
  /** Buffers stored while planning ({@link PlanOptions.directStore}), none of them in {@link buffers}. */
  storedAlready: { count: number; bytes: number };
}

/** Options of {@link planUpload}. */
export interface PlanOptions {
  /**
   * The buffers go to a local {@link BufferDir} (not a server or `--destination`): many small
   * new files are then shared with a helper thread that keeps their bytes for
   * {@link storeBuffers} (pass it `plan.helper`).
   */
  localStore?: boolean;
  /**
   * The local buffer directory the upload goes to. A first upload of many files (their sidecars
   * absent) is then carried out while planning, in one pass per file on two threads
   * ({@link uploadClaimedInOrder}): buffers stored, sidecars written. The plan holds what is left.
   */
  directStore?: BufferDir;
}

/**
 * Hashes files and directories (with the stat cache) into an upload plan, with
 * {@link checksumFiles}; the plan keeps argument order. With many inputs whose sidecars exist,
 * the helper thread reads those sidecars meanwhile ({@link SidecarWrite.heldAlready}).
 *
 * @param paths files and directories; a trailing `/` is ignored, `*.CHECKSUM` arguments are skipped
 */
export async function planUpload(paths: string[], statCache: StatCache | null, options: PlanOptions = {}): Promise<UploadPlan> {
  const kept = keptInputs(paths);
  const many = kept.length >= HELPER_MIN_FILES && hashThreads() >= 2;
  const reupload = many && sidecarsSeemToExist(kept);
  if (many && !reupload && options.directStore) {
    const plan = await planAfterOnePass(kept, options.directStore, statCache, options);
    if (plan) return plan;
  }
  const readAhead = reupload ? startReadingSidecars(kept) : null;
  // Without sidecars to read ahead (a first upload), their directories tell which are absent.
  const listings = readAhead || kept.length < LIST_FROM ? null : listDirectoriesOf(kept);
  try {
    return await planWith(kept, statCache, options, readAhead, listings);
  } catch (error) {
    readAhead?.helper.close();
    throw error;
  }
}

/** Sidecars the helper reads while the main thread stats the inputs (see {@link SidecarReads}). */
interface ReadAhead {
  helper: UploadHelper;
  paths: string[];
  sidecars: SharedSidecars;
  read: Promise<void>;
}

/** The inputs without trailing `/` and without `*.CHECKSUM` arguments. */
function keptInputs(paths: string[]): string[] {
  // Native string operations answer the common case (nothing to change) for 10k arguments in
  // well under a millisecond; a loop over them this early in a process costs several.
  const joined = `${paths.join("\0")}\0`;
  if (!joined.includes("/\0") && !joined.includes(".CHECKSUM\0")) return paths;
  const kept: string[] = [];
  for (const raw of paths) {
    const path = raw.length > 1 && raw.endsWith("/") ? raw.replace(/\/+$/, "") : raw;
    if (!path.endsWith(".CHECKSUM")) kept.push(path);
  }
  return kept;
}

/** The `.CHECKSUM` paths of file inputs ({@link fileSidecarPath}). */
function sidecarPathsOf(paths: string[]): string[] {
  const joined = `${paths.join("\0")}\0`;
  // Without compressed names each is the path plus a suffix: native operations, as above.
  if (paths.length === 0 || joined.includes(".gz\0") || joined.includes(".zst\0")) return paths.map(fileSidecarPath);
  return `${paths.join(".CHECKSUM\0")}.CHECKSUM`.split("\0");
}

/** Whether the first or the last input has a sidecar: then this is most likely a re-upload. */
function sidecarsSeemToExist(paths: string[]): boolean {
  const exists = (path: string) => statSync(fileSidecarPath(path), { throwIfNoEntry: false }) !== undefined;
  return exists(paths[0]!) || exists(paths.at(-1)!);
}

/**
 * Starts the helper reading the inputs' sidecars (a re-upload of many inputs). A directory
 * named `*.gz` or `*.zst` gets the wrong path here; {@link sidecarFilesOf} does not use what
 * was read for it.
 */
function startReadingSidecars(paths: string[]): ReadAhead {
  const sidecarPaths = sidecarPathsOf(paths);
  const helper = new UploadHelper();
  const sidecars = sharedSidecarsOf(sidecarPaths);
  const read = helper.readSidecars(sidecars);
  read.catch(() => {}); // awaited by finishReading
  return { helper, paths: sidecarPaths, sidecars, read };
}

/** Joins the helper until every sidecar is claimed, then waits for its last claims. */
async function finishReading(readAhead: ReadAhead): Promise<SidecarReads> {
  readClaimedSidecars(readAhead.sidecars);
  await readAhead.read;
  return new SidecarReads(readAhead.sidecars, readAhead.paths);
}

async function planWith(kept: string[], statCache: StatCache | null, options: PlanOptions, readAhead: ReadAhead | null, listings: Promise<DirectoryListings> | null): Promise<UploadPlan> {
  let directories = 0;
  const allStats = kept.map((path) => {
    const stats = statSync(path, { throwIfNoEntry: false }) ?? missingInput(path);
    if (stats.isDirectory()) directories++;
    return stats;
  });
  // Every file to hash, hashed together: the file inputs, and the files of the directory inputs.
  const paths: string[] = directories === 0 ? kept : [];
  const stats: Stats[] = directories === 0 ? allStats : [];
  /** Per input: the position of a file among `paths`, or the files of a directory (none: the input's position). */
  const members = directories === 0 ? null : kept.map((path, index): number | { first: number; files: ListedFile[] } => {
    const first = paths.length;
    if (!allStats[index]!.isDirectory()) {
      paths.push(path);
      stats.push(allStats[index]!);
      return first;
    }
    const files = listDirectoryFiles(path);
    for (const file of files) {
      paths.push(file.path);
      stats.push(file.stats);
    }
    return { first, files };
  });
  // An unchanged set uploaded before: one query instead of a lookup per file.
  const set = statCache ? fileSetOfFiles(stats, paths) : null;
  const known = statCache && set ? statCache.lookupSet(set) : null;
  const reads = readAhead ? await finishReading(readAhead) : null;
  // The common re-upload: every input an unchanged file, its sidecar right, its buffer stored.
  if (known && reads && options.directStore && directories === 0 && reads.holdAll(known)) {
    const present = await options.directStore.has(known);
    if (!present.includes(false)) {
      readAhead?.helper.close();
      return { buffers: new Map(), sidecars: [], paths: kept, helper: null, recordStatCache: () => {}, storedAlready: { count: 0, bytes: 0 } };
    }
  }
  let hashed: HashedFiles;
  if (known) {
    readAhead?.helper.close();
    hashed = { results: resultsOfKnownSet(paths, stats, known), helper: null, recordStatCache: () => statCache?.flush() };
  } else {
    const queries = statCache ? stampQueriesOf(paths, stats) : [];
    hashed = await hashNewFiles(paths, stats, { statCache, queries, set }, options, readAhead?.helper ?? null);
  }
  const { results, helper, recordStatCache } = hashed;
  const listed = await listings;
  const buffers = new Map<Checksum, UploadSource>();
  const sidecars: SidecarWrite[] = [];
  const addBuffer = ({ checksum, length, bytes }: FileChecksum, path: string) => {
    if (!buffers.has(checksum)) buffers.set(checksum, bytes ? { checksum, length, bytes } : { checksum, length, path });
  };
  for (const [k, path] of kept.entries()) {
    const member = members ? members[k]! : k;
    if (typeof member !== "number") {
      const files = member.files.map(({ key, path }, j): IndexedFile => ({ key, path, checksum: results[member.first + j]!.checksum, length: results[member.first + j]!.length }));
      for (const [j, file] of files.entries()) addBuffer(results[member.first + j]!, file.path);
      const { indexBuffer, checksum } = directoryIndexOf(files);
      addBuffer({ checksum, length: indexBuffer.byteLength, bytes: indexBuffer }, path);
      const checksumPath = `${path}.CHECKSUM`;
      sidecars.push({ checksumPath, checksum, index: { path: `${path}.INDEX`, bytes: indexBuffer }, heldAlready: reads?.holds(k, checksumPath, formatChecksumSidecar(checksum)) });
    } else {
      const result = results[member]!;
      addBuffer(result, path);
      // The read-ahead built this very path for a file input.
      const checksumPath = readAhead?.paths[k] ?? fileSidecarPath(path);
      const heldAlready = reads ? reads.holds(k, checksumPath, formatChecksumSidecar(result.checksum)) : listed?.lacks(checksumPath) ? false : undefined;
      sidecars.push({ checksumPath, checksum: result.checksum, likelyExists: result.fromStatCache, heldAlready });
    }
  }
  let recorded = false;
  const recordOnce = () => {
    if (!recorded) recordStatCache();
    recorded = true;
  };
  return { buffers, sidecars, paths: kept, helper, recordStatCache: recordOnce, storedAlready: { count: 0, bytes: 0 } };
}

/**
 * Uploads the inputs in one pass per file on two threads ({@link uploadClaimedInOrder}),
 * recording them in the stat cache as their sidecars are written, then plans what that left
 * over (directories, large or compressed files, an unreadable file) as usual.
 */
async function planAfterOnePass(kept: string[], store: BufferDir, statCache: StatCache | null, options: PlanOptions): Promise<UploadPlan | null> {
  // Started first: the thread boots while the directories are listed.
  const helper = new UploadHelper();
  const checksums = new Array<Checksum>(kept.length);
  const storedChecksums = new Set<Checksum>();
  let storedBytes = 0;
  let uploaded = 0;
  let recordedMs: number;
  const files = onePassFilesOf(kept, store.directory, store.fileMode);
  try {
    const listing = listDirectoriesOf(kept);
    if (!store.listable) return null;
    const storedNames = store.listingPays(kept.length) ? await store.storedNames() : null;
    files.storedPrefixes = storedNames ? storedPrefixesOf(storedNames) : null;
    // Taken before reading: a change during the upload then falls inside the stat cache's racy margin.
    recordedMs = statCache?.now() ?? 0;
    const helped = helper.uploadInOnePass(files);
    helped.catch(() => {}); // awaited by uploadClaimedInOrder
    // Until its files are marked as listed regular files, the helper looks at each before opening it.
    const listings = await listing;
    for (let k = 0; k < kept.length; k++) if (listings.holdsRegularFile(kept[k]!)) files.listedRegular[k] = 1;
    // Sidecars written, results collected and recorded in the stat cache as the buffers are
    // stored, while the helper takes more files.
    const onStored = (k: number, checksum: Checksum, stored: boolean) => {
      const path = `${kept[k]!}.CHECKSUM`; // not a compressed name: those are left over
      const text = formatChecksumSidecar(checksum);
      if (listings.lacks(path) || !holdsBytes(path, Buffer.from(text, "latin1"))) writeFileAtomic(path, text);
      checksums[k] = checksum;
      uploaded++;
      if (stored && !storedChecksums.has(checksum)) {
        storedChecksums.add(checksum);
        storedBytes += files.stamps[k * STAMP_FIELDS + 2]!;
      }
      statCache?.record(stampIn(files.stamps, k), false, checksum, recordedMs);
    };
    await uploadClaimedInOrder(files, helped, onStored);
  } finally {
    helper.close();
  }
  const left = uploaded === kept.length ? [] : kept.filter((_, k) => checksums[k] === undefined);
  const rest = left.length > 0 ? await planWith(left, statCache, options, null, null) : null;
  let recorded = false;
  const recordStatCache = () => {
    if (recorded || !statCache) return;
    recorded = true;
    // The set, when nothing was left over: the next upload of these files is then one query.
    const set = left.length === 0 ? fileSetOfFiles(kept.map((_, k) => stampIn(files.stamps, k)), kept) : null;
    if (set) statCache.recordSet(set, checksums, recordedMs);
    rest?.recordStatCache();
    statCache.flush();
  };
  const storedAlready = { count: storedChecksums.size, bytes: storedBytes };
  return { buffers: rest?.buffers ?? new Map(), sidecars: rest?.sidecars ?? [], paths: kept, helper: rest?.helper ?? null, recordStatCache, storedAlready };
}

/** File `k`'s stamp in {@link OnePassFiles.stamps}. */
function stampIn(stamps: Float64Array, k: number): FileStamp {
  const at = k * STAMP_FIELDS;
  return { dev: stamps[at]!, ino: stamps[at + 1]!, size: stamps[at + 2]!, mtimeMs: stamps[at + 3]!, ctimeMs: stamps[at + 4]! };
}

/** What {@link hashNewFiles} found, and the helper that keeps new small files in shared memory. */
interface HashedFiles {
  results: FileChecksum[];
  helper: UploadHelper | null;
  /** See {@link UploadPlan.recordStatCache}. */
  recordStatCache: () => void;
}

/** The stat cache, and what a set lookup in it asked. */
interface CacheLookup {
  statCache: StatCache | null;
  queries: StampQuery[];
  set: FileSet | null;
}

/**
 * Hashes an upload's files when the stat cache does not know them as a set: new small files on
 * two threads into shared memory (see {@link helperShare}), the rest with {@link checksumFiles},
 * keeping the bytes of small files.
 *
 * @param idleHelper the read-ahead's helper, done reading: kept for hashing and storing, or closed
 */
async function hashNewFiles(paths: string[], stats: Stats[], { statCache, queries, set }: CacheLookup, options: PlanOptions, idleHelper: UploadHelper | null): Promise<HashedFiles> {
  // Taken before reading: a change during hashing then falls inside the stat cache's racy margin.
  const recordedMs = statCache?.now() ?? 0;
  const cachedCount = statCache?.prefetch(queries) ?? null;
  const all = paths.map((_, index) => index);
  const share = options.localStore ? helperShare(all, paths, stats, statCache, cachedCount) : [];
  const helper = share.length > 0 ? (idleHelper ?? new UploadHelper()) : null;
  if (!helper) idleHelper?.close();
  const shareSet = new Set(share);
  const rest = share.length > 0 ? all.filter((index) => !shareSet.has(index)) : all;
  const shared = helper ? sharedFilesOf(share.map((index) => paths[index]!), share.map((index) => stats[index]!.size)) : null;
  const helperHashed = shared && helper?.hash(shared);
  helperHashed?.catch(() => {}); // awaited below; an error of ours first must not leave it unhandled
  const results = new Array<FileChecksum>(paths.length);
  try {
    // Small files keep their bytes: storing them then needs no second read and hash.
    const restResults = await checksumFiles(rest.map((index) => paths[index]!), rest.map((index) => stats[index]!), statCache, { keepSmallBytesUpTo: MAX_RETAINED_BYTES, lookedUpByCaller: true });
    for (const [k, index] of rest.entries()) results[index] = restResults[k]!;
    if (shared) {
      // Then this thread joins the helper on the shared files until none are left.
      hashClaimed(shared);
      await helperHashed;
      for (const [k, { checksum, bytes }] of sharedResults(shared).entries()) results[share[k]!] = { checksum, length: bytes.byteLength, bytes };
    }
  } catch (error) {
    helper?.close();
    throw error;
  }
  // The shared files and the set are recorded later, while the helper stores (~25 ms per 10k files).
  const recordStatCache = () => {
    if (!statCache) return;
    for (const index of share) statCache.record(stampOf(stats[index]!), false, results[index]!.checksum, recordedMs);
    if (set) statCache.recordSet(set, results.map((result) => result.checksum), recordedMs);
    statCache.flush();
  };
  return { results, helper, recordStatCache };
}

/**
 * The files an upload hashes on two threads into shared memory ({@link hashClaimed}), so that
 * the helper can then store their buffers: the small, uncompressed files the stat cache does not
 * know (up to a memory budget), when there are enough of them to pay for a thread.
 *
 * @param cachedCount how many files the stat cache has entries for (null: not prefetched)
 * @returns none when no helper pays
 */
function helperShare(files: number[], paths: string[], stats: Stats[], statCache: StatCache | null, cachedCount: number | null): number[] {
  if (hashThreads() < 2) return [];
  const small = files.filter((index) => stats[index]!.size <= SMALL_FILE_BYTES && !compressionSuffixOf(paths[index]!));
  // The prefetch's count spares a lookup per file in the common cases: a new tree (no entries)
  // and an unchanged one (an entry for nearly every file; stale ones are left to this thread).
  if (statCache && cachedCount !== null && small.length - cachedCount < HELPER_MIN_FILES) return [];
  const minBytes = statCache?.minBytes ?? 0;
  const fresh = !statCache || cachedCount === 0 ? small : small.filter((index) => {
    const stat = stats[index]!;
    return stat.size < minBytes || statCache.lookup(stampOf(stat), false) === null;
  });
  if (fresh.length < HELPER_MIN_FILES) return [];
  let bytes = 0;
  const over = fresh.findIndex((index) => (bytes += stats[index]!.size + 1) > MAX_RETAINED_BYTES);
  return over < 0 ? fresh : fresh.slice(0, over);
}

function missingInput(path: string): never {
  throw new SeamlessError(`Cannot upload "${path}": no such file or directory`);
}

/** The buffers of a plan that the store lacks, found with one batched check. */
export async function findMissing(store: BufferStore, plan: Pick<UploadPlan, "buffers">): Promise<UploadSource[]> {
  const sources = [...plan.buffers.values()];
  const present = await store.has(sources.map((s) => s.checksum));
  if (store instanceof BufferDir && sources.length <= LENGTH_CHECKED_UP_TO) {
    // A stored buffer of the wrong length (a short write of an older build, a full disk) is
    // dropped and stored again: one `stat` each, for runs and small uploads.
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i]!;
      if (present[i] && source.length >= 0 && store.dropIfWrongLength(source.checksum, source.length)) present[i] = false;
    }
  }
  return sources.filter((_, i) => !present[i]);
}

/** {@link findMissing} checks the stored length of present buffers for plans up to this size. */
const LENGTH_CHECKED_UP_TO = 256;

/** Length in bytes of a source, measuring compressed files if needed. */
export function sourceLength(source: UploadSource): number {
  if (source.length >= 0) return source.length;
  return "path" in source ? statSync(source.path).size : "bytes" in source ? source.bytes.byteLength : 0;
}

/** Stores buffers that {@link findMissing} just reported missing (existence is not checked again). */
export async function storeBuffers(store: BufferStore, sources: UploadSource[], onProgress?: (bytes: number) => void): Promise<void> {
  if (store instanceof BufferDir) {
    for (const source of sources) if ("path" in source) store.putFileSync(source.checksum, source.path, onProgress);
    const small = sources.filter((source): source is Extract<BufferSource, { bytes: Uint8Array }> => "bytes" in source);
    store.preparePrefixDirs(small.map((source) => source.checksum));
    // The bytes of a plan were hashed by this process, and findMissing found them missing.
    await forEachAdaptive(small, (source) => store.putHashedSync(source.checksum, source.bytes), (source) => store.putHashedAsync(source.checksum, source.bytes));
    return;
  }
  // A few requests in flight hide round-trip latency without flooding the server.
  await mapConcurrent(sources as BufferSource[], 8, async (source) => {
    if ("path" in source) await store.putFile(source.checksum, source.path, onProgress);
    else await store.put(source.checksum, source.bytes);
  });
}

/** One sidecar file to write: a `.CHECKSUM` or an `.INDEX`. */
export interface SidecarFile {
  path: string;
  bytes: Uint8Array;
  /** The buffer it names: a file's, or a directory's index buffer. */
  names: Checksum;
  /** See {@link SidecarWrite.likelyExists}. */
  likelyExists?: boolean;
  /** See {@link SidecarWrite.heldAlready}. */
  heldAlready?: boolean;
  /** One of a directory's sidecars: through its index it names the buffers of all its files too. */
  directory?: boolean;
}

/**
 * Every sidecar file of a plan that may need writing, in plan order: all but the `.CHECKSUM`
 * files read ahead as holding what they should ({@link SidecarWrite.heldAlready}). See
 * {@link staleSidecars}.
 */
export function sidecarFilesOf(plan: UploadPlan): SidecarFile[] {
  const unsure = plan.sidecars.filter((sidecar) => sidecar.heldAlready !== true);
  // One buffer holds every `.CHECKSUM` text, viewed per file: 10k small buffers cost ~5 ms more.
  const texts = unsure.map((sidecar) => formatChecksumSidecar(sidecar.checksum));
  const all = Buffer.from(texts.join(""), "latin1");
  let end = 0;
  const files = unsure.flatMap((sidecar, k): SidecarFile[] => {
    const names = sidecar.checksum;
    const bytes = all.subarray(end, (end += texts[k]!.length));
    const checksumFile: SidecarFile = { path: sidecar.checksumPath, bytes, names, likelyExists: sidecar.likelyExists, heldAlready: sidecar.heldAlready };
    if (!sidecar.index) return [checksumFile];
    checksumFile.directory = true;
    return [{ ...sidecar.index, names, directory: true }, checksumFile];
  });
  // A directory's `.INDEX` was not read ahead, even where its `.CHECKSUM` was.
  const indexes = plan.sidecars.filter((sidecar) => sidecar.heldAlready === true && sidecar.index);
  return indexes.length === 0 ? files : [...indexes.map((sidecar) => ({ ...sidecar.index!, names: sidecar.checksum, directory: true })), ...files];
}

/**
 * The sidecar files of a plan that are missing or hold other bytes; identical ones are left
 * untouched (their mtimes stay). Reading them needs no buffer, so an upload runs this while
 * {@link findMissing} waits on the store, and writes the result after storing.
 */
export async function staleSidecars(plan: UploadPlan): Promise<SidecarFile[]> {
  const files = sidecarFilesOf(plan);
  const stale = files.map((file) => file.heldAlready === false);
  const indexes = files.flatMap((file, index) => (file.heldAlready === undefined ? [index] : []));
  await forEachAdaptive(
    indexes,
    (index) => void (stale[index] = !holdsBytes(files[index]!.path, files[index]!.bytes, files[index]!.likelyExists)),
    async (index) => void (stale[index] = !(await holdsBytesAsync(files[index]!.path, files[index]!.bytes, files[index]!.likelyExists))),
  );
  return files.filter((_, index) => stale[index]);
}

/** Options of {@link writeSidecars}. */
export interface SidecarWriteOptions {
  /** The files were not compared with what is on disk ({@link staleSidecars}): leave identical ones untouched. */
  compare?: boolean;
}

/** Writes sidecar files ({@link staleSidecars}), each atomically; `.INDEX` files before any `.CHECKSUM`. */
export async function writeSidecars(files: SidecarFile[], options: SidecarWriteOptions = {}): Promise<void> {
  // Main thread only: two threads creating files in one directory slowed each other down
  // (sidecars of 10k files: 155 ms on one thread, ~210 ms on two; BENCHMARKS.md).
  const { writeSync, writeAsync } = sidecarWriters(options);
  for (const batch of indexesFirst(files)) await forEachAdaptive(batch, writeSync, writeAsync);
}

function sidecarWriters(options: SidecarWriteOptions): { writeSync: (file: SidecarFile) => void; writeAsync: (file: SidecarFile) => Promise<void> } {
  if (!options.compare) return { writeSync: (file) => writeFileAtomic(file.path, file.bytes), writeAsync: (file) => writeFileAtomicAsync(file.path, file.bytes) };
  return {
    writeSync: (file) => void ((file.heldAlready ?? holdsBytes(file.path, file.bytes, file.likelyExists)) || writeFileAtomic(file.path, file.bytes)),
    writeAsync: async (file) => void ((file.heldAlready ?? (await holdsBytesAsync(file.path, file.bytes, file.likelyExists))) || (await writeFileAtomicAsync(file.path, file.bytes))),
  };
}

function indexesFirst(files: SidecarFile[]): SidecarFile[][] {
  const isIndex = (file: SidecarFile) => file.path.endsWith(".INDEX");
  return [files.filter(isIndex), files.filter((file) => !isIndex(file))];
}

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
export async function storeAndWriteSidecars(store: BufferStore, missing: UploadSource[], sidecars: SidecarFile[], options: StoreOptions = {}): Promise<void> {
  const { onProgress, helper } = options;
  const handed = missing.filter((source): source is SharedSource => "bytes" in source && source.bytes.buffer instanceof SharedArrayBuffer);
  if (!helper || !(store instanceof BufferDir) || handed.length === 0) {
    await storeBuffers(store, missing, onProgress);
    await writeSidecars(sidecars, options);
    return;
  }
  const handedSet = new Set<UploadSource>(handed);
  await storeBuffers(store, missing.filter((source) => !handedSet.has(source)), onProgress);
  store.preparePrefixDirs(handed.map((source) => source.checksum));
  const stores = sharedStoresOf(handed.map((source) => source.bytes), handed.map((source) => store.pathFor(source.checksum)), store.fileMode);
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

/** How buffers reach a `--destination` directory. */
export type TransferMode = "copy" | "hardlink" | "symlink";
/** What to do with a destination entry that exists already. */
export type ExistingPolicy = "skip" | "verify" | "repair";

/**
 * Writes buffers straight into a buffer directory (`seamless upload --destination`,
 * cli-spec §6): files mode 0444, prefix directories mode 3775.
 */
export function storeIntoDestination(dest: BufferDir, sources: UploadSource[], mode: TransferMode, policy: ExistingPolicy, incremental: boolean): void {
  for (const source of sources) {
    const target = dest.pathFor(source.checksum);
    if (dest.layout === "prefix") {
      const dir = target.slice(0, target.lastIndexOf("/"));
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true, mode: 0o3775 });
      }
    }
    const exists = lstatExists(target);
    if (exists) {
      if (incremental && "path" in source && sameInode(source.path, target)) continue;
      if (policy === "skip") continue;
      if (policy === "verify") {
        const actual = hashFileRaw(target).checksum;
        if (actual !== source.checksum) throw new ChecksumMismatchError(`Destination entry "${target}" is corrupt (checksum ${actual})`);
        continue;
      }
      rmSync(target, { force: true }); // repair: rewrite as a regular file
    }
    if ("bytes" in source) {
      dest.putSync(source.checksum, source.bytes);
    } else if (mode === "copy" || compressionSuffixOf(source.path)) {
      dest.putFileSync(source.checksum, source.path);
    } else if (mode === "hardlink") {
      linkSync(source.path, target);
    } else {
      symlinkSync(resolvePath(source.path), target);
    }
  }
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function sameInode(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

/** Removes uploaded inputs (`--move`); their sidecars stay. */
export function removeInputs(paths: string[]): void {
  for (const path of paths) {
    if (!existsSync(path)) throw new SeamlessError(`Cannot remove "${path}": it no longer exists`);
    rmSync(path, { recursive: true, force: true });
  }
}
