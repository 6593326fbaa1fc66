/**
 * Collects small chunks (network reads are ~64 KiB) into 4 MiB writes that run on the runtime's
 * I/O threads while this thread goes on receiving and hashing: a download then costs about the
 * larger of receive+hash and disk time, not their sum (BENCHMARKS.md).
 * @module
 */
import { closeSync, openSync, rmSync, write, writeSync } from "node:fs";

const BATCH_BYTES = 4 * 1024 * 1024;
/** Beyond this many bytes queued, writes block: the disk sets the pace and memory stays bounded. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/** A file being written in large batches, in the background. */
export class BatchedFileWriter {
  #fd: number | null;
  #batch: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  #used = 0;
  /** File offset of the next batch: positional writes may complete in any order. */
  #position = 0;
  #queuedBytes = 0;
  #inFlight = new Set<Promise<void>>();
  #spare: Buffer[] = [];
  #error: unknown = null;

  constructor(readonly path: string) {
    this.#fd = openSync(path, "w");
  }

  write(chunk: Uint8Array): void {
    this.#throwIfFailed();
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - offset, BATCH_BYTES - this.#used);
      this.#batch.set(chunk.subarray(offset, offset + n), this.#used);
      this.#used += n;
      offset += n;
      if (this.#used === BATCH_BYTES) this.#submit();
    }
  }

  #submit(): void {
    if (this.#used === 0) return;
    const batch = this.#batch;
    const length = this.#used;
    const position = this.#position;
    this.#position += length;
    this.#used = 0;
    if (this.#queuedBytes + length > MAX_QUEUED_BYTES) {
      writeFully(this.#fd!, batch, length, position);
      return;
    }
    this.#batch = this.#spare.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
    this.#queuedBytes += length;
    const done: Promise<void> = writeInBackground(this.#fd!, batch, length, position).then(
      () => {
        this.#spare.push(batch);
      },
      (error) => {
        this.#error ??= error;
      },
    ).finally(() => {
      this.#queuedBytes -= length;
      this.#inFlight.delete(done);
    });
    this.#inFlight.add(done);
  }

  #throwIfFailed(): void {
    if (this.#error) throw this.#error;
  }

  /** Writes what is pending, waits for it, and closes the file. */
  async close(): Promise<void> {
    this.#submit();
    await Promise.all(this.#inFlight);
    this.#throwIfFailed();
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  /** Waits for writes in flight, then closes and removes the file (after a failure). */
  async discard(): Promise<void> {
    await Promise.all(this.#inFlight);
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch {}
      this.#fd = null;
    }
    rmSync(this.path, { force: true });
  }
}

function writeFully(fd: number, buffer: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) done += writeSync(fd, buffer, done, length - done, position + done);
}

/** A positional write on the runtime's I/O threads, repeated until all bytes are written. */
function writeInBackground(fd: number, buffer: Buffer, length: number, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number) => {
      if (done >= length) return resolve();
      write(fd, buffer, done, length - done, position + done, (error, written) => {
        if (error) reject(error);
        else step(done + written);
      });
    };
    step(0);
  });
}
