/**
 * Upload planning (cli-spec §4): hash the inputs (with the stat cache) into the buffers to store
 * and the sidecars to write. Many small files bring in the helper thread ({@link UploadHelper});
 * a first upload of many files into a local buffer directory is carried out while planning, in
 * one pass per file ({@link uploadClaimedInOrder}).
 * @module
 */
import { statSync, type Stats } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import {
  checksumFiles, directoryIndexOf, listDirectoryFiles, resultsOfKnownSet, stampQueriesOf, type FileChecksum, type IndexedFile, type ListedFile,
} from "../checksum/file-checksum.ts";
import { compressionSuffixOf } from "../checksum/compression.ts";
import { fileSidecarPath, formatChecksumSidecar, holdsBytes } from "../checksum/sidecar.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import type { StatCache } from "../checksum/stat-cache.ts";
import type { BufferDir } from "../buffers/bufferdir.ts";
import type { BufferSource } from "../buffers/transfer.ts";
import { SeamlessError } from "../errors.ts";
import { fileSetOfFiles, stampOf, type FileSet, type FileStamp, type StampQuery } from "../checksum/stat-cache.ts";
import { SMALL_FILE_BYTES } from "../checksum/file-content.ts";
import { hashThreads } from "../checksum/hash-pool.ts";
import { HELPER_MIN_FILES, UploadHelper } from "./_helper.ts";
import { hashClaimed, sharedFilesOf, sharedResults } from "./_shared-hash.ts";
import { SidecarReads, readClaimedSidecars, sharedSidecarsOf, type SharedSidecars } from "./_shared-sidecars.ts";
import { LIST_FROM, listDirectoriesOf, type DirectoryListings } from "./_listed-dirs.ts";
import { STAMP_FIELDS, onePassFilesOf, storedPrefixesOf, uploadClaimedInOrder } from "./_one-pass.ts";


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
  buffers: Map<Checksum, BufferSource>;
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
  /**
   * Called with the inputs before planning writes their sidecars ({@link directStore}), so that
   * the caller can note where temp files of a killed upload may be left.
   */
  beforeWritingSidecars?: (inputs: string[]) => void;
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
  const buffers = new Map<Checksum, BufferSource>();
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
    if (!store._listable) return null;
    const storedNames = store._listingPays(kept.length) ? await store._storedNames() : null;
    files.storedPrefixes = storedNames ? storedPrefixesOf(storedNames) : null;
    // Taken before reading: a change during the upload then falls inside the stat cache's racy margin.
    recordedMs = statCache?.now() ?? 0;
    options.beforeWritingSidecars?.(kept); // before the helper can write a sidecar's temp file
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
