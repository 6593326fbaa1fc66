/**
 * A file's checksum from its bytes alone (no stat cache): the part of hashing that a worker
 * thread can do, so it stays free of the database and other heavy imports.
 * @module
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import type { Checksum } from "./checksum.ts";
import { hashFileRaw, computeChecksum } from "./sha256.ts";
import { compressionSuffixOf, decompress } from "./compression.ts";

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
export const SMALL_FILE_BYTES = 1024 * 1024;

/**
 * Hashes a file's content with no stat cache: decompressed for `.zst`/`.gz` names, read whole
 * up to 1 MiB, streamed above.
 *
 * @param path the file
 * @param size its size from a recent stat, if known (picks the whole-file read)
 */
export function hashFileContent(path: string, size: number | null, keepSmallBytes = false): FileChecksum {
  try {
    return hashContent(path, size, keepSmallBytes);
  } catch (error) {
    throw namingFile(error, path);
  }
}

function hashContent(path: string, size: number | null, keepSmallBytes: boolean): FileChecksum {
  const suffix = compressionSuffixOf(path);
  if (suffix) {
    const bytes = decompress(readFileSync(path), suffix);
    const result: FileChecksum = { checksum: computeChecksum(bytes), length: bytes.byteLength };
    if (keepSmallBytes && bytes.byteLength <= SMALL_FILE_BYTES) result.bytes = bytes;
    return result;
  }
  if (size !== null && size <= SMALL_FILE_BYTES) {
    const bytes = readFileSync(path);
    const result: FileChecksum = { checksum: computeChecksum(bytes), length: bytes.byteLength };
    if (keepSmallBytes) result.bytes = bytes;
    return result;
  }
  return hashFileRaw(path);
}

/**
 * Reads up to `length` bytes of a file into `target` at `offset`, stopping early at its end:
 * one `read` for a small file, and no buffer of its own. Errors name the file. A regular file
 * reads short only at its end, so a short read ends the reading (a second `read` to see 0 bytes
 * cost 10k syscalls per 10k files); a pipe may then be read only in part.
 *
 * @returns how many bytes were read
 */
export function readUpTo(path: string, target: Uint8Array, offset: number, length: number): number {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    let done = 0;
    while (done < length) {
      const wanted = length - done;
      const n = readSync(fd, target, offset + done, wanted, null);
      done += n;
      if (n < wanted) break;
    }
    return done;
  } catch (error) {
    throw namingFile(error, path);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A file error that names no file (a failed `read` does not) gets this path, for the message. */
function namingFile(error: unknown, path: string): unknown {
  if (error instanceof Error && !(error as NodeJS.ErrnoException).path) (error as NodeJS.ErrnoException).path = path;
  return error;
}
