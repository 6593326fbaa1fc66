/**
 * Upload planning and execution (cli-spec §4): hash inputs, find what the store lacks with
 * one batched check, store the missing buffers, then write sidecars.
 * @module
 */
import { existsSync, linkSync, mkdirSync, rmSync, statSync, symlinkSync, lstatSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { checksumFiles, indexDirectoryAsync, prefetchChecksums, type DirectoryIndex, type FileChecksum } from "../checksum/file-checksum.ts";
import { stripCompressionSuffix, compressionSuffixOf } from "../checksum/compression.ts";
import { formatChecksumSidecar, writeFileIfChanged, writeFileIfChangedAsync } from "../checksum/sidecar.ts";
import { forEachAdaptive, mapConcurrent } from "../concurrency/map-concurrent.ts";
import type { StatCache } from "../checksum/stat-cache.ts";
import { BufferDir } from "./bufferdir.ts";
import type { BufferStore } from "./store.ts";
import { ChecksumMismatchError, SeamlessError } from "../errors.ts";
import { hashFileRaw } from "../checksum/sha256.ts";

/** One buffer to make present: from a file on disk, or from bytes (an index buffer). */
export type BufferSource = { checksum: Checksum; length: number; path: string } | { checksum: Checksum; length: number; bytes: Uint8Array };

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
}

/** A hashed set of inputs. */
export interface UploadPlan {
  buffers: Map<Checksum, BufferSource>;
  sidecars: SidecarWrite[];
  /** Top-level paths, for --move. */
  paths: string[];
}

/**
 * Hashes files and directories (with the stat cache) into an upload plan, with
 * {@link checksumFiles}; the plan keeps argument order.
 *
 * @param paths files and directories; a trailing `/` is ignored, `*.CHECKSUM` arguments are skipped
 */
export async function planUpload(paths: string[], statCache: StatCache | null): Promise<UploadPlan> {
  const buffers = new Map<Checksum, BufferSource>();
  const sidecars: SidecarWrite[] = [];
  const kept = paths.map((raw) => (raw.length > 1 ? raw.replace(/\/+$/, "") : raw)).filter((path) => !path.endsWith(".CHECKSUM"));
  const allStats = kept.map((path) => statSync(path, { bigint: true, throwIfNoEntry: false }) ?? missingInput(path));
  prefetchChecksums(statCache, kept, allStats);
  type Hashed = { path: string; directory: DirectoryIndex | null; file: FileChecksum | null };
  const hashed: Hashed[] = new Array(kept.length);
  const files: number[] = [];
  for (const [index, path] of kept.entries()) {
    if (allStats[index]!.isDirectory()) hashed[index] = { path, directory: await indexDirectoryAsync(path, statCache), file: null };
    else files.push(index);
  }
  // Small files keep their bytes: storing them then needs no second read and hash.
  const fileResults = await checksumFiles(files.map((index) => kept[index]!), files.map((index) => allStats[index]!), statCache, { keepSmallBytesUpTo: MAX_RETAINED_BYTES });
  for (const [k, index] of files.entries()) hashed[index] = { path: kept[index]!, directory: null, file: fileResults[k]! };
  for (const entry of hashed) {
    if (entry.directory) {
      const { files, indexBuffer, checksum } = entry.directory;
      for (const file of files) if (!buffers.has(file.checksum)) buffers.set(file.checksum, { checksum: file.checksum, length: file.length, path: file.path });
      if (!buffers.has(checksum)) buffers.set(checksum, { checksum, length: indexBuffer.byteLength, bytes: indexBuffer });
      sidecars.push({ checksumPath: `${entry.path}.CHECKSUM`, checksum, index: { path: `${entry.path}.INDEX`, bytes: indexBuffer } });
    } else if (entry.file) {
      const { checksum, length, bytes } = entry.file;
      if (!buffers.has(checksum)) buffers.set(checksum, bytes ? { checksum, length, bytes } : { checksum, length, path: entry.path });
      sidecars.push({ checksumPath: `${stripCompressionSuffix(entry.path)}.CHECKSUM`, checksum, likelyExists: entry.file.fromStatCache });
    }
  }
  return { buffers, sidecars, paths: kept };
}

function missingInput(path: string): never {
  throw new SeamlessError(`Cannot upload "${path}": no such file or directory`);
}

/** The buffers of a plan that the store lacks, found with one batched check. */
export async function findMissing(store: BufferStore, plan: UploadPlan): Promise<BufferSource[]> {
  const sources = [...plan.buffers.values()];
  const present = await store.has(sources.map((s) => s.checksum));
  return sources.filter((_, i) => !present[i]);
}

/** Length in bytes of a source, measuring compressed files if needed. */
export function sourceLength(source: BufferSource): number {
  if (source.length >= 0) return source.length;
  return "path" in source ? statSync(source.path).size : source.bytes.byteLength;
}

/** Stores buffers that {@link findMissing} just reported missing (existence is not checked again). */
export async function storeBuffers(store: BufferStore, sources: BufferSource[], onProgress?: (bytes: number) => void): Promise<void> {
  if (store instanceof BufferDir) {
    for (const source of sources) if ("path" in source) store.putFileSync(source.checksum, source.path, onProgress);
    const small = sources.filter((source): source is Extract<BufferSource, { bytes: Uint8Array }> => "bytes" in source);
    store.preparePrefixDirs(small.map((source) => source.checksum));
    // The bytes of a plan were hashed by this process, and findMissing found them missing.
    await forEachAdaptive(small, (source) => store.putHashedSync(source.checksum, source.bytes), (source) => store.putHashedAsync(source.checksum, source.bytes));
    return;
  }
  // A few requests in flight hide round-trip latency without flooding the server.
  await mapConcurrent(sources, 8, async (source) => {
    if ("path" in source) await store.putFile(source.checksum, source.path, onProgress);
    else await store.put(source.checksum, source.bytes);
  });
}

/** Writes the `.CHECKSUM` (and `.INDEX`) sidecars of a plan, each atomically, concurrently. */
export async function writeSidecars(plan: UploadPlan): Promise<void> {
  await forEachAdaptive(
    plan.sidecars,
    (sidecar) => {
      if (sidecar.index) writeFileIfChanged(sidecar.index.path, sidecar.index.bytes);
      writeFileIfChanged(sidecar.checksumPath, formatChecksumSidecar(sidecar.checksum), sidecar.likelyExists);
    },
    async (sidecar) => {
      if (sidecar.index) await writeFileIfChangedAsync(sidecar.index.path, sidecar.index.bytes);
      await writeFileIfChangedAsync(sidecar.checksumPath, formatChecksumSidecar(sidecar.checksum), sidecar.likelyExists);
    },
  );
}

/** How buffers reach a `--destination` directory. */
export type TransferMode = "copy" | "hardlink" | "symlink";
/** What to do with a destination entry that exists already. */
export type ExistingPolicy = "skip" | "verify" | "repair";

/**
 * Writes buffers straight into a buffer directory (`seamless upload --destination`,
 * cli-spec §6): files mode 0444, prefix directories mode 3775.
 */
export function storeIntoDestination(dest: BufferDir, sources: BufferSource[], mode: TransferMode, policy: ExistingPolicy, incremental: boolean): void {
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
