/**
 * Download planning (cli-spec §5): turn each positional (file, directory, `.CHECKSUM`,
 * `.INDEX` or raw checksum) into targets, then fetch verified buffers into files atomically.
 * @module
 */
import { existsSync, mkdirSync, readdirSync, rmSync, linkSync, symlinkSync, copyFileSync } from "node:fs";
import { dirname, join, relative, resolve as resolvePath } from "node:path";
import { tryParseChecksum, type Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import { hashFileRaw } from "../checksum/sha256.ts";
import { compress, type CompressionSuffix } from "../checksum/compression.ts";
import { isAbandonedTempFile, tempFileWriter } from "./temp-files.ts";
import { fileSidecarPath, MAX_INDEX_SIDECAR_BYTES, parseIndexText, readChecksumSidecar, readSidecarText, stripTextData, writeChecksumSidecar, type DeepIndex } from "../checksum/sidecar.ts";
import { ChecksumMismatchError, NotFoundError } from "../errors.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import type { BufferStore } from "./store.ts";
import type { Log } from "../log.ts";

/** One file to produce. */
export interface FileTarget {
  checksum: Checksum;
  path: string;
}

/** One positional, resolved. */
export type DownloadItem =
  | { kind: "file"; source: string; target: FileTarget }
  | { kind: "directory"; source: string; directory: string; checksum: Checksum | null; indexPath: string; index: DeepIndex | null; indexBytes: Uint8Array | null; copyIndexTo: string | null };

/** Options that shape resolution. */
export interface ResolveOptions {
  outputs: (string | undefined)[];
  forceDirectory: boolean;
  indexOnly: boolean;
}

/** Resolves positionals into download items (cli-spec §5 "Resolution of each positional"). */
export function resolveDownloadItems(positionals: string[], options: ResolveOptions): DownloadItem[] {
  return positionals.map((raw, n) => {
    const p = raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
    const output = options.outputs[n];
    let indexPath: string | null = null;
    let rawChecksum: Checksum | null = null;
    if (p.endsWith(".INDEX")) indexPath = p;
    else {
      const base = p.endsWith(".CHECKSUM") ? p.slice(0, -".CHECKSUM".length) : p;
      if (!p.endsWith(".CHECKSUM")) rawChecksum = tryParseChecksum(p);
      const candidate = `${base}.INDEX`;
      if (existsSync(candidate) || (rawChecksum && options.forceDirectory)) indexPath = candidate;
      else if (options.indexOnly && existsSync(`${base}.CHECKSUM`) && !rawChecksum && existsSync(candidate)) indexPath = candidate;
    }
    if (indexPath) {
      const base = indexPath.slice(0, -".INDEX".length);
      const checksumPath = `${base}.CHECKSUM`;
      const checksum = rawChecksum ?? (existsSync(checksumPath) ? readChecksumSidecar(checksumPath) : null);
      const directory = output ?? base;
      return { kind: "directory", source: raw, directory, checksum, indexPath, index: null, indexBytes: null, copyIndexTo: output ? `${output}.INDEX` : null };
    }
    if (rawChecksum) return { kind: "file", source: raw, target: { checksum: rawChecksum, path: output ?? rawChecksum } };
    const base = p.endsWith(".CHECKSUM") ? p.slice(0, -".CHECKSUM".length) : p;
    const checksumPath = `${base}.CHECKSUM`;
    if (!existsSync(checksumPath)) {
      throw new NotFoundError(`Cannot download "${raw}": "${checksumPath}" does not exist and "${raw}" is not a checksum`);
    }
    return { kind: "file", source: raw, target: { checksum: readChecksumSidecar(checksumPath), path: output ?? base } };
  });
}

/**
 * Loads a directory item's index: from its `.INDEX` file, else from the buffer its checksum
 * names (then the `.INDEX` file is written). The index bytes must match a known checksum.
 */
export async function loadDirectoryIndex(item: Extract<DownloadItem, { kind: "directory" }>, store: BufferStore, log: Log): Promise<void> {
  let text = existsSync(item.indexPath) ? stripTextData(readSidecarText(item.indexPath, MAX_INDEX_SIDECAR_BYTES)) : "";
  let bytes: Uint8Array;
  if (text) {
    bytes = Buffer.from(`${text}\n`);
  } else {
    if (!item.checksum) throw new NotFoundError(`Cannot download directory "${item.source}": no index and no checksum`);
    log.message(0, `${item.indexPath} is missing, downloading from checksum ...`);
    const buffer = await store.get(item.checksum);
    if (!buffer) throw new NotFoundError(`Cannot download index buffer "${item.checksum}": not found in ${store.location}`);
    bytes = buffer;
    text = Buffer.from(bytes).toString("utf8");
    writeFileAtomic(item.indexPath, bytes);
    log.message(0, `${item.indexPath} ... success`);
  }
  const actual = computeChecksum(bytes);
  if (item.checksum && actual !== item.checksum) {
    throw new ChecksumMismatchError(`Index "${item.indexPath}" does not match its checksum ${item.checksum} (got ${actual})`);
  }
  item.checksum = actual;
  item.index = parseIndexText(text, item.indexPath);
  item.indexBytes = bytes;
}

/**
 * Files in `dir` (recursively) that the index does not list. Our own temp files are not
 * entries: those of a dead process (an interrupted download) are removed, those of a live one
 * left alone.
 */
export function findUnlisted(dir: string, index: DeepIndex, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  const expected = new Set(Object.keys(index).map((key) => key + suffix));
  const unlisted: string[] = [];
  const visit = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (tempFileWriter(entry.name) !== null) {
        if (isAbandonedTempFile(entry.name)) rmSync(full, { force: true });
      } else if (!expected.has(relative(dir, full))) unlisted.push(full);
    }
  };
  visit(dir);
  return unlisted;
}

export type DownloadPolicy = "skip" | "verify" | "repair";
export type DirectTransfer = "copy" | "hardlink" | "symlink";

/** Result of fetching one file. */
export type FetchOutcome = "written" | "skipped" | "missing";

/**
 * Fetches one file target: verified, atomic, never a partial file under the final name.
 * An existing target is kept (skip), checked (verify) or rewritten (repair).
 */
export async function fetchFile(
  store: BufferStore, target: FileTarget, policy: DownloadPolicy, compression: CompressionSuffix | null,
  direct: DirectTransfer | null, onProgress?: (bytes: number) => void,
): Promise<FetchOutcome> {
  const path = compression ? target.path + compression : target.path;
  if (existsSync(path)) {
    if (policy === "skip") return "skipped";
    if (policy === "verify" && !compression) {
      const actual = hashFileRaw(path).checksum;
      if (actual !== target.checksum) throw new ChecksumMismatchError(`Existing file "${path}" does not match checksum ${target.checksum}`);
      return "skipped";
    }
  }
  mkdirSync(dirname(path) || ".", { recursive: true });
  if (compression) {
    const bytes = await store.get(target.checksum);
    if (!bytes) return "missing";
    writeFileAtomic(path, compress(bytes, compression));
    return "written";
  }
  if (direct && direct !== "copy" && store.local) {
    const found = store.local.locate(target.checksum);
    if (!found) return "missing";
    if (!found.suffix) {
      if (hashFileRaw(found.path).checksum !== target.checksum) throw new ChecksumMismatchError(`Buffer "${target.checksum}" is corrupt in ${store.location}`);
      rmSync(path, { force: true });
      if (direct === "hardlink") linkSync(found.path, path);
      else symlinkSync(resolvePath(found.path), path);
      return "written";
    }
  }
  return (await store.getToFile(target.checksum, path, onProgress)) ? "written" : "missing";
}

/** Writes a `.CHECKSUM` per index member instead of downloading (`--index`). */
export function writeMemberSidecars(directory: string, index: DeepIndex): void {
  for (const [key, checksum] of Object.entries(index)) {
    const path = fileSidecarPath(join(directory, key));
    mkdirSync(dirname(path), { recursive: true });
    writeChecksumSidecar(path, checksum);
  }
}

/** Removes files not in the index (`--dest-rm`). */
export function removeUnlisted(files: string[]): void {
  for (const file of files) rmSync(file, { force: true });
}

/** Copies the index next to a renamed target (`-o`). */
export function copyIndexFile(from: string, to: string): void {
  if (resolvePath(from) !== resolvePath(to)) copyFileSync(from, to);
}

