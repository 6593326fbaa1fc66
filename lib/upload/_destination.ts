/**
 * `seamless upload --destination DIR` (cli-spec §6): buffers written straight into a buffer
 * directory, copied, hard-linked or symlinked.
 * @module
 */
import { existsSync, linkSync, lstatSync, mkdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { compressionSuffixOf } from "../checksum/compression.ts";
import { hashFileRaw } from "../checksum/sha256.ts";
import { BufferDir } from "../buffers/bufferdir.ts";
import type { BufferSource } from "../buffers/transfer.ts";
import { ChecksumMismatchError, SeamlessError } from "../errors.ts";

/**
 * The buffer directory an upload `--destination` writes into: stored files mode 0444.
 *
 * @throws {SeamlessError} when `directory` is not a directory
 */
export function openDestination(directory: string): BufferDir {
  if (!existsSync(directory) || !statSync(directory).isDirectory()) {
    throw new SeamlessError(`Destination "${directory}" is not a directory`);
  }
  return new BufferDir(directory, { fileMode: 0o444 });
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
