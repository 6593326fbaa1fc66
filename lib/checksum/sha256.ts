import { closeSync, openSync, readSync } from "node:fs";
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
  const hasher = new StreamingHasher();
  const fd = openSync(path, "r");
  try {
    const chunk = sharedChunk();
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (n <= 0) break;
      hasher.update(n === CHUNK_BYTES ? chunk : chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return { checksum: hasher.digest(), length: hasher.length };
}
