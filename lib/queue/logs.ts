/**
 * Job logs on disk: one file per execution (stdout and stderr interleaved), capped when the
 * execution ends by keeping its head and its tail, read by offset for `--follow`.
 * @module
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { writeFileAtomic } from "../buffers/atomic-write.ts";

/** Default cap of a kept log: 1 MiB head + 1 MiB tail. */
export const DEFAULT_LOG_CAP_BYTES = 2 * 1024 * 1024;

/**
 * Shrinks a log larger than `capBytes` to its first and last `capBytes / 2` bytes with a
 * marker line between them, atomically.
 *
 * @returns whether the file was shrunk
 */
export function capLogFile(path: string, capBytes = DEFAULT_LOG_CAP_BYTES): boolean {
  if (!existsSync(path)) return false;
  const size = statSync(path).size;
  if (size <= capBytes) return false;
  const half = Math.floor(capBytes / 2);
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(half);
    const tail = Buffer.alloc(half);
    readSync(fd, head, 0, half, 0);
    readSync(fd, tail, 0, half, size - half);
    const marker = Buffer.from(`\n[seamless queue: ${size - 2 * half} bytes of log omitted]\n`);
    writeFileAtomic(path, Buffer.concat([head, marker, tail]));
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a log from `offset` (at most `maxBytes`).
 *
 * @returns the bytes and the offset after them; empty when the file does not exist (yet)
 */
export function readLogChunk(path: string, offset: number, maxBytes = 1024 * 1024): { data: Uint8Array; nextOffset: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return { data: new Uint8Array(0), nextOffset: offset };
  }
  try {
    const size = fstatSync(fd).size;
    if (offset >= size) return { data: new Uint8Array(0), nextOffset: offset };
    const length = Math.min(maxBytes, size - offset);
    const data = Buffer.alloc(length);
    const n = readSync(fd, data, 0, length, offset);
    return { data: data.subarray(0, n), nextOffset: offset + n };
  } finally {
    closeSync(fd);
  }
}
