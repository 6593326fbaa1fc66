/**
 * A local buffer directory in the hashserver layout (cli-spec §6, services-spec §2.5):
 * flat `DIR/<hex>` or prefix `DIR/<hex[:2]>/<hex>` when `DIR/.HASHSERVER_PREFIX` exists;
 * compressed entries `<hex>.zst`/`<hex>.gz`; extra read-only directories.
 * @module
 */
import { fsPromises } from "../disk/lazy-node.ts";
import { chmodSync, closeSync, constants as fsConstants, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { StreamingHasher, computeChecksum, hashFileRaw, hashOpenFile } from "../checksum/sha256.ts";
import { compressionSuffixOf, decompress, type CompressionSuffix } from "../checksum/compression.ts";
import { ChecksumMismatchError, CorruptBufferError } from "../errors.ts";
import { trivialBuffer } from "../checksum/trivial.ts";
import { assertWrittenSize, describeWriteError, tempPathFor, writeAllSync, writeFileAtomic, writeFileAtomicAsync } from "../disk/atomic-write.ts";
import { CHUNK_BYTES, sharedChunk } from "../checksum/chunk-buffer.ts";
import type { BufferStore } from "./store.ts";

export type Layout = "flat" | "prefix";
export const PREFIX_MARKER = ".HASHSERVER_PREFIX";

/** Options for {@link BufferDir}. */
export interface BufferDirOptions {
  /** Layout; default: prefix if the marker exists, else flat. */
  layout?: Layout;
  /** Read-only directories searched after the main one. */
  extraDirs?: string[];
  /** Mode of stored files: 0600 like the hashserver (default), 0444 for upload --destination. */
  fileMode?: number;
}

/** Detects a directory's layout from its marker file. */
export function detectLayout(dir: string): Layout {
  return existsSync(join(dir, PREFIX_MARKER)) ? "prefix" : "flat";
}

/** A buffer found on disk, possibly stored compressed. */
export interface LocatedBuffer {
  path: string;
  suffix: CompressionSuffix | null;
}

/**
 * A buffer directory used as a {@link BufferStore}. Methods named `_…` serve the upload machinery
 * (lib/upload, and `storeBuffers` in transfer.ts) and nothing else: listing ahead, storing bytes
 * hashed by this process without hashing them again, preparing prefix directories.
 */
export class BufferDir implements BufferStore {
  readonly location: string;
  readonly layout: Layout;
  readonly #extra: { dir: string; layout: Layout }[];
  readonly #fileMode: number;
  /** Prefix directories known to exist, to skip a mkdir per buffer. */
  readonly #madeDirs = new Set<string>();
  /** How many buffers {@link _listingPays} judged the directory to hold. */
  #storedEstimate: { count: number; atMs: number } | undefined;
  /** Started by {@link _listAhead}, used by the next {@link has} of many checksums. */
  #listing: Promise<Set<string>> | null = null;

  constructor(readonly directory: string, options: BufferDirOptions = {}) {
    this.location = directory;
    this.layout = options.layout ?? detectLayout(directory);
    this.#extra = (options.extraDirs ?? []).map((dir) => ({ dir, layout: detectLayout(dir) }));
    this.#fileMode = options.fileMode ?? 0o600;
  }

  /** Itself: see {@link BufferStore.local}. */
  get local(): BufferDir {
    return this;
  }

  /** Mode of the files it stores. */
  get fileMode(): number {
    return this.#fileMode;
  }

  /** Creates the directory (and the prefix marker for the prefix layout) if missing. */
  ensureExists(): void {
    mkdirSync(this.directory, { recursive: true });
    if (this.layout === "prefix" && !existsSync(join(this.directory, PREFIX_MARKER))) {
      writeFileSafe(join(this.directory, PREFIX_MARKER), "1\n");
    }
  }

  /** The path of an uncompressed buffer in the main directory. */
  pathFor(checksum: Checksum): string {
    return pathIn(this.directory, this.layout, checksum);
  }

  /** Finds a buffer: main directory, then extra ones; uncompressed, then `.zst`, then `.gz`. */
  locate(checksum: Checksum, preferredSuffix: CompressionSuffix | null = null): LocatedBuffer | null {
    const places = [{ dir: this.directory, layout: this.layout }, ...this.#extra];
    const order: (CompressionSuffix | null)[] = preferredSuffix ? [preferredSuffix, null, ".zst", ".gz"] : [null, ".zst", ".gz"];
    for (const place of places) {
      const base = pathIn(place.dir, place.layout, checksum);
      for (const suffix of order) {
        const path = suffix ? base + suffix : base;
        if (existsSync(path)) return { path, suffix };
      }
    }
    return null;
  }

  async has(checksums: Checksum[]): Promise<boolean[]> {
    const present = await this.#hasStored(checksums);
    for (let i = 0; i < present.length; i++) if (!present[i]) present[i] = trivialBuffer(checksums[i]!) !== null;
    return present;
  }

  async #hasStored(checksums: Checksum[]): Promise<boolean[]> {
    if (checksums.length < 256 || !this._listingPays(checksums.length)) {
      return checksums.map((checksum) => this.locate(checksum) !== null);
    }
    // Many at once: one readdir per prefix directory instead of up to three stats per buffer.
    // From a few thousand checksums on, every prefix is as good as certain to be among them.
    let listed: Set<string>;
    if (checksums.length >= ALL_PREFIXES_FROM) {
      listed = await (this.#listing ?? this.#list(ALL_PREFIXES));
      this.#listing = null;
    } else listed = await this.#list([...new Set(checksums.map((checksum) => checksum.slice(0, 2)))]);
    return checksums.map((checksum) => listed.has(checksum) || listed.has(`${checksum}.zst`) || listed.has(`${checksum}.gz`));
  }

  /** Whether it can be listed for {@link has}: prefix layout, no extra directories. */
  get _listable(): boolean {
    return this.layout === "prefix" && this.#extra.length === 0;
  }

  /**
   * Whether listing every prefix directory costs less than looking up `count` buffers one by
   * one. A listing costs per stored buffer, a lookup per asked one (one to three `stat`s): in a
   * cache far larger than the upload, listing it all would cost the most (10k buffers asked of
   * a cache of 300k: ~180 ms listing, ~15 ms looking up). The size is judged from one prefix
   * directory, as buffer names are spread evenly over them.
   */
  _listingPays(count: number): boolean {
    if (!this._listable) return false;
    // Judged again after a while: a long-running server's store grows.
    const now = Date.now();
    if (!this.#storedEstimate || now - this.#storedEstimate.atMs > STORED_ESTIMATE_KEPT_MS) {
      this.#storedEstimate = { count: ALL_PREFIXES.length * namesIn(join(this.directory, ALL_PREFIXES[0]!)), atMs: now };
    }
    return this.#storedEstimate.count <= LISTING_MAX_RATIO * count;
  }

  /**
   * The names in every prefix directory (listed ahead by {@link _listAhead}, or now), for a
   * directory in prefix layout without extra directories; null for any other.
   */
  async _storedNames(): Promise<Set<string> | null> {
    if (!this._listable) return null;
    const listing = this.#listing ?? this.#list(ALL_PREFIXES);
    this.#listing = null;
    return await listing;
  }

  /** The names in these prefix directories, listed all in flight together (the caller's thread is free meanwhile). */
  async #list(prefixes: readonly string[]): Promise<Set<string>> {
    const { readdir } = fsPromises();
    const names = await Promise.all(prefixes.map((prefix) => readdir(join(this.directory, prefix)).catch(() => [] as string[])));
    // One set: buffer names are unique across prefixes.
    return new Set(names.flat());
  }

  /**
   * Starts listing every prefix directory now, for the next {@link has} of about `count`
   * checksums, if that many are enough for it to list them all and the store is not too large
   * for that ({@link _listingPays}); an upload lists while it hashes. What is stored meanwhile
   * may be missed: it is stored again.
   */
  _listAhead(count: number): void {
    if (count >= ALL_PREFIXES_FROM && this._listingPays(count)) {
      this.#listing ??= this.#list(ALL_PREFIXES);
      this.#listing.catch(() => {}); // awaited by has()
    }
  }

  async lengths(checksums: Checksum[]): Promise<(number | null)[]> {
    return checksums.map((checksum) => this.lengthOf(checksum) ?? trivialBuffer(checksum)?.byteLength ?? null);
  }

  /** Length of the decompressed buffer, or null when absent. */
  lengthOf(checksum: Checksum): number | null {
    const found = this.locate(checksum);
    if (!found) return null;
    try {
      if (!found.suffix) return statSync(found.path).size;
      const sidecar = `${found.path.slice(0, -found.suffix.length)}.BUFFERLENGTH`;
      if (existsSync(sidecar)) return Number(readFileSync(sidecar, "utf8").trim());
      return decompress(readFileSync(found.path), found.suffix).byteLength;
    } catch (error) {
      // Removed since it was found (a concurrent `seamless gc`): absent.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async get(checksum: Checksum): Promise<Uint8Array | null> {
    return this.getSync(checksum);
  }

  /** Synchronous {@link get}. */
  getSync(checksum: Checksum): Uint8Array | null {
    const found = this.locate(checksum);
    if (!found) return trivialBuffer(checksum);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(found.path);
    } catch (error) {
      // Removed since it was found (a concurrent `seamless gc`): absent, as if never found.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return trivialBuffer(checksum);
      throw error;
    }
    if (found.suffix) bytes = decompress(bytes, found.suffix);
    const actual = computeChecksum(bytes);
    if (actual !== checksum) throw this.#dropCorrupt(found.path, checksum, actual);
    return bytes;
  }

  /**
   * Removes the uncompressed buffer stored under `checksum` in the main directory when its size
   * is not `length`: its bytes cannot match its name. One `stat`, no hashing.
   *
   * @returns true when a buffer of the wrong length was removed
   */
  _dropIfWrongLength(checksum: Checksum, length: number): boolean {
    const path = this.pathFor(checksum);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return false; // absent here (or only compressed, or in an extra directory)
    }
    if (size === length) return false;
    try {
      rmSync(path);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A buffer stored uncompressed, opened and hashed as a stream (memory stays bounded, for
   * buffers too large to read whole): the caller reads the very bytes that were verified, even if
   * a concurrent `gc` removes the file meanwhile, and closes the descriptor. Null when it is
   * absent (also: removed since it was found) or stored compressed.
   *
   * @throws {CorruptBufferError} when its bytes no longer match its name (it is dropped)
   */
  openVerified(checksum: Checksum): number | null {
    const found = this.locate(checksum);
    if (!found || found.suffix) return null;
    let fd: number;
    try {
      fd = openSync(found.path, "r");
    } catch (error) {
      // Removed since it was found (a concurrent `seamless gc`): absent.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    try {
      const { checksum: actual } = hashOpenFile(fd);
      if (actual !== checksum) throw this.#dropCorrupt(found.path, checksum, actual);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return fd;
  }

  /**
   * Removes a stored file whose bytes no longer match its name, so that it is never served
   * again (a later store of the right bytes puts it back), and says so.
   */
  #dropCorrupt(path: string, checksum: Checksum, actual: Checksum): CorruptBufferError {
    let removed = false;
    try {
      rmSync(path);
      removed = true;
    } catch {}
    const what = removed ? "it has been removed from the store" : "it could not be removed";
    return new CorruptBufferError(`Buffer "${checksum}" is corrupt: "${path}" has checksum ${actual}; ${what}`, checksum);
  }

  async getToFile(checksum: Checksum, destination: string, onProgress?: (bytes: number) => void): Promise<boolean> {
    const found = this.locate(checksum);
    if (!found) {
      const trivial = trivialBuffer(checksum);
      if (trivial) writeVerified(destination, [trivial], checksum, "trivial buffer");
      return trivial !== null;
    }
    if (found.suffix) {
      const bytes = this.getSync(checksum);
      if (!bytes) return false;
      writeVerified(destination, [bytes], checksum, found.path);
      onProgress?.(bytes.byteLength);
      return true;
    }
    try {
      copyVerified(found.path, destination, checksum, undefined, onProgress);
    } catch (error) {
      if (error instanceof CopyMismatchError) throw this.#dropCorrupt(found.path, checksum, error.actual);
      // Removed since it was found (a concurrent `seamless gc`): absent.
      if ((error as NodeJS.ErrnoException).code === "ENOENT" && !existsSync(found.path)) return false;
      throw error;
    }
    return true;
  }

  async put(checksum: Checksum, bytes: Uint8Array): Promise<void> {
    this.putSync(checksum, bytes);
  }

  /** Synchronous {@link put}; a no-op when the buffer is already stored. */
  putSync(checksum: Checksum, bytes: Uint8Array): void {
    const target = this.pathFor(checksum);
    if (existsSync(target)) return;
    this.#ensurePrefixDir(checksum);
    writeVerified(target, [bytes], checksum, "upload", this.#fileMode);
  }

  /**
   * Stores bytes whose checksum this process has just computed from these very bytes and
   * found missing (an upload plan): hashing them again could only catch a bug of ours, and
   * cost ~10% of a small-file upload.
   */
  _putHashedSync(checksum: Checksum, bytes: Uint8Array): void {
    this.#ensurePrefixDir(checksum);
    writeFileAtomic(this.pathFor(checksum), bytes, this.#fileMode);
  }

  /** Async {@link _putHashedSync}, so that many small buffers can be written concurrently. */
  async _putHashedAsync(checksum: Checksum, bytes: Uint8Array): Promise<void> {
    this.#ensurePrefixDir(checksum);
    await writeFileAtomicAsync(this.pathFor(checksum), bytes, this.#fileMode);
  }

  async putFile(checksum: Checksum, path: string, onProgress?: (bytes: number) => void): Promise<void> {
    this.putFileSync(checksum, path, onProgress);
  }

  /** Copies a file in, verifying what is written; compressed files are stored decompressed. */
  putFileSync(checksum: Checksum, path: string, onProgress?: (bytes: number) => void): void {
    const target = this.pathFor(checksum);
    if (existsSync(target)) return;
    this.#ensurePrefixDir(checksum);
    const suffix = compressionSuffixOf(path);
    if (suffix) {
      writeVerified(target, [decompress(readFileSync(path), suffix)], checksum, path, this.#fileMode);
    } else {
      try {
        copyVerified(path, target, checksum, this.#fileMode, onProgress);
      } catch (error) {
        if (error instanceof CopyMismatchError) throw sourceChanged(path, checksum, error.actual);
        throw error;
      }
    }
  }

  /**
   * Creates the prefix directories these buffers go into, so that the writes that follow do
   * not pay the mkdirs (an adaptive loop times its first writes to choose a strategy).
   */
  _preparePrefixDirs(checksums: Iterable<Checksum>): void {
    for (const checksum of checksums) this.#ensurePrefixDir(checksum);
  }

  #ensurePrefixDir(checksum: Checksum): void {
    if (this.layout !== "prefix") return;
    const prefix = checksum.slice(0, 2);
    if (this.#madeDirs.has(prefix)) return;
    try {
      mkdirSync(join(this.directory, prefix), { recursive: true });
    } catch (error) {
      throw describeWriteError(error, join(this.directory, prefix)); // a read-only or full cache: one clear line
    }
    this.#madeDirs.add(prefix);
  }

  close(): void {}
}

/** A listing pays ({@link BufferDir._listingPays}) for a store up to this many times the buffers asked. */
const LISTING_MAX_RATIO = 4;

/** How long {@link BufferDir._listingPays} keeps its judgement of the store's size. */
const STORED_ESTIMATE_KEPT_MS = 30_000;

/** {@link BufferDir.has} lists every prefix directory from this many checksums on (see there). */
const ALL_PREFIXES_FROM = 2048;
const ALL_PREFIXES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** How many names a directory holds; 0 if it does not exist. */
function namesIn(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}

function pathIn(dir: string, layout: Layout, checksum: Checksum): string {
  return layout === "prefix" ? join(dir, checksum.slice(0, 2), checksum) : join(dir, checksum);
}

/** A mismatch found while copying; `actual` is what the bytes hash to. */
class CopyMismatchError extends ChecksumMismatchError {
  constructor(message: string, readonly actual: Checksum) {
    super(message);
  }
}

function corruption(path: string, expected: Checksum, actual: Checksum): CopyMismatchError {
  return new CopyMismatchError(`Buffer "${expected}" is corrupt: "${path}" has checksum ${actual}`, actual);
}

/**
 * A file that hashed to `expected` when it was planned and to something else while it was
 * copied: the user's file changed meanwhile (the store is fine).
 */
export function sourceChanged(path: string, expected: Checksum, actual: Checksum): ChecksumMismatchError {
  return new ChecksumMismatchError(`File "${path}" changed while it was being stored (checksum ${expected} when read first, ${actual} now); nothing was stored for it`, {
    hint: "run the command again once the file is no longer being written",
  });
}

function writeFileSafe(path: string, text: string): void {
  writeFileAtomic(path, text);
}

/**
 * Commits a verified temp file to `target` by rename. For a buffer the target, if another
 * writer created it meanwhile, holds the same verified bytes, so replacing it is harmless and
 * one syscall cheaper than the hashserver's link-then-unlink.
 */
function commit(temp: string, target: string): void {
  renameSync(temp, target);
}

/** Writes chunks to a temp file next to `target`, checks their SHA-256, then commits. */
export function writeVerified(target: string, chunks: Uint8Array[], checksum: Checksum, source: string, mode?: number): void {
  const temp = tempPathFor(target);
  let fd: number;
  try {
    fd = openSync(temp, "w", mode ?? 0o666);
  } catch (error) {
    throw describeWriteError(error, target);
  }
  const hasher = new StreamingHasher();
  try {
    let total = 0;
    for (const chunk of chunks) {
      hasher.update(chunk);
      writeAllSync(fd, chunk);
      total += chunk.byteLength;
    }
    assertWrittenSize(fd, total, target);
    closeSync(fd);
    const actual = hasher.digest();
    if (actual !== checksum) throw corruption(source, checksum, actual);
    commit(temp, target);
  } catch (error) {
    try { closeSync(fd); } catch {}
    rmSync(temp, { force: true });
    throw describeWriteError(error, target);
  }
}

/** From this size on, a copy first tries a copy-on-write clone (cheap on btrfs, XFS, ZFS). */
const CLONE_MIN_BYTES = 1 << 20;

/**
 * Clones `source` to `temp` with copy-on-write when the file system offers it, then hashes
 * the clone: the bytes are shared on disk but never written through (a later write to either
 * file copies the block). Returns false when cloning is not possible here.
 */
function cloneVerified(source: string, temp: string, checksum: Checksum, mode: number | undefined, onProgress?: (bytes: number) => void): boolean {
  try {
    if (statSync(source).size < CLONE_MIN_BYTES) return false;
    copyFileSync(source, temp, fsConstants.COPYFILE_FICLONE_FORCE);
  } catch {
    rmSync(temp, { force: true });
    return false;
  }
  try {
    if (mode !== undefined) chmodSync(temp, mode);
    const { checksum: actual, length } = hashFileRaw(temp);
    onProgress?.(length);
    if (actual !== checksum) throw corruption(source, checksum, actual);
    return true;
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * Copies `source` to `target` and verifies the copy: a copy-on-write clone hashed after, else
 * a stream through a hasher; nothing lands under `target` unless it verifies.
 */
export function copyVerified(source: string, target: string, checksum: Checksum, mode?: number, onProgress?: (bytes: number) => void): void {
  const temp = tempPathFor(target);
  if (cloneVerified(source, temp, checksum, mode, onProgress)) {
    commit(temp, target);
    return;
  }
  const input = openSync(source, "r");
  let output: number;
  try {
    output = openSync(temp, "w", mode ?? 0o666);
  } catch (error) {
    closeSync(input);
    throw describeWriteError(error, target);
  }
  const hasher = new StreamingHasher();
  try {
    const chunk = sharedChunk();
    let total = 0;
    for (;;) {
      const n = readSync(input, chunk, 0, CHUNK_BYTES, null);
      if (n <= 0) break;
      const view = n === CHUNK_BYTES ? chunk : chunk.subarray(0, n);
      hasher.update(view);
      writeAllSync(output, view);
      total += n;
      onProgress?.(n);
    }
    assertWrittenSize(output, total, target);
    closeSync(input);
    closeSync(output);
    const actual = hasher.digest();
    if (actual !== checksum) throw corruption(source, checksum, actual);
    commit(temp, target);
  } catch (error) {
    try { closeSync(input); } catch {}
    try { closeSync(output); } catch {}
    rmSync(temp, { force: true });
    throw describeWriteError(error, target);
  }
}

