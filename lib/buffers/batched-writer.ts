/**
 * Collects small chunks (network reads are ~64 KiB) into 4 MiB writes: fewer syscalls, and
 * the measured write path here is fastest at that size (BENCHMARKS.md).
 * @module
 */
import { closeSync, openSync, rmSync, writeSync } from "node:fs";

const BATCH_BYTES = 4 * 1024 * 1024;
/** Chunks at least this large are written as they are: copying them costs more than it saves. */
const DIRECT_BYTES = 256 * 1024;

/** A file being written in large batches. */
export class BatchedFileWriter {
  #fd: number | null;
  #buffer = Buffer.allocUnsafe(BATCH_BYTES);
  #used = 0;

  constructor(readonly path: string) {
    this.#fd = openSync(path, "w");
  }

  write(chunk: Uint8Array): void {
    if (chunk.byteLength >= DIRECT_BYTES) {
      this.#flush();
      writeSync(this.#fd!, chunk);
      return;
    }
    if (this.#used + chunk.byteLength > BATCH_BYTES) this.#flush();
    this.#buffer.set(chunk, this.#used);
    this.#used += chunk.byteLength;
  }

  #flush(): void {
    if (this.#used > 0) writeSync(this.#fd!, this.#buffer.subarray(0, this.#used));
    this.#used = 0;
  }

  /** Writes what is pending and closes the file. */
  close(): void {
    this.#flush();
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  /** Closes and removes the file (after a failure). */
  discard(): void {
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch {}
      this.#fd = null;
    }
    rmSync(this.path, { force: true });
  }
}
