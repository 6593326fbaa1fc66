import { closeSync, openSync, read, readSync } from "node:fs";
import type { Checksum } from "./checksum.ts";
import { CHUNK_BYTES, sharedChunk } from "./chunk-buffer.ts";

/**
 * SHA-256 of a buffer or string (strings are UTF-8 encoded), as 64 lower-case hex.
 *
 * @param data the bytes to hash
 * @returns the checksum
 * @example
 * ```ts
 * computeChecksum("hello\n"); // "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
 * ```
 */
export function computeChecksum(data: Uint8Array | string): Checksum {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** An incremental SHA-256 hasher, for streams. */
export class StreamingHasher {
  #hasher = new Bun.CryptoHasher("sha256");
  /** Number of bytes fed so far. */
  length = 0;
  update(chunk: Uint8Array): void {
    this.#hasher.update(chunk);
    this.length += chunk.byteLength;
  }
  digest(): Checksum {
    return this.#hasher.digest("hex");
  }
}

/**
 * Hashes a file without loading it whole: `readSync` in 4 MiB chunks, the fastest path
 * measured here (see BENCHMARKS.md).
 *
 * @param path the file to hash
 * @returns the checksum and the number of bytes read
 */
export function hashFileRaw(path: string): { checksum: Checksum; length: number } {
  const fd = openSync(path, "r");
  try {
    return hashOpenFile(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * {@link hashFileRaw} on an open file, read from its start with positioned reads (the file
 * position is left alone), so that the caller can go on reading the very bytes it verified.
 *
 * @param fd a file opened for reading
 * @returns the checksum and the number of bytes read
 */
export function hashOpenFile(fd: number): { checksum: Checksum; length: number } {
  const hasher = new StreamingHasher();
  const chunk = sharedChunk();
  for (let position = 0; ; ) {
    const n = readSync(fd, chunk, 0, CHUNK_BYTES, position);
    if (n <= 0) break;
    position += n;
    hasher.update(n === CHUNK_BYTES ? chunk : chunk.subarray(0, n));
  }
  return { checksum: hasher.digest(), length: hasher.length };
}

/**
 * {@link hashFileRaw} for a large file, with the next chunk read on the I/O thread pool while
 * this thread hashes the current one: 1 GiB from the page cache took ~770 ms against ~930 ms
 * with `readSync` (and ~930 ms for `openssl dgst -sha256`).
 */
export async function hashFileRawAsync(path: string): Promise<{ checksum: Checksum; length: number }> {
  const hasher = new StreamingHasher();
  const fd = openSync(path, "r");
  // Reused from call to call (taken while in use): fresh 8 MiB per file cost its page faults each time.
  const chunks = idleChunks ?? ([Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)] as const);
  idleChunks = null;
  try {
    let current = 0;
    let n = readSync(fd, chunks[0], 0, CHUNK_BYTES, null);
    while (n > 0) {
      const next = readChunk(fd, chunks[1 - current]!);
      next.catch(() => {}); // awaited below, after hashing
      hasher.update(n === CHUNK_BYTES ? chunks[current]! : chunks[current]!.subarray(0, n));
      n = await next;
      current = 1 - current;
    }
  } finally {
    closeSync(fd);
    idleChunks = chunks;
  }
  return { checksum: hasher.digest(), length: hasher.length };
}

let idleChunks: readonly [Buffer, Buffer] | null = null;

/** One `read` at the file position, on the thread pool (the callback form: node:fs is loaded already). */
function readChunk(fd: number, chunk: Buffer): Promise<number> {
  return new Promise((resolve, reject) => read(fd, chunk, 0, chunk.byteLength, null, (error, n) => (error ? reject(error) : resolve(n))));
}
