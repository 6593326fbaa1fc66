/**
 * Job logs on disk: one file per execution (stdout and stderr interleaved), capped by keeping
 * its head and its tail — while the job runs (the executor calls {@link trimLogFile} every
 * {@link LOG_TRIM_INTERVAL_MS}) and once more when it ends ({@link capLogFile}).
 *
 * Layout of a trimmed log, for a cap C: the first `C/2` bytes the job wrote (the head), a
 * fixed-width marker line `\n[seamless queue: <D, padded to 15> bytes of log omitted]\n`
 * holding how many bytes were dropped so far, then the newest bytes (the tail: at most `C/2`
 * once the job ended; while it runs, up to `C` plus what the job writes between two looks, every
 * {@link LOG_TRIM_INTERVAL_MS}, or {@link LOG_TRIM_BUSY_INTERVAL_MS} while it keeps outgrowing it). The job itself keeps
 * appending (its stdout and stderr are the file, opened `O_APPEND`, so it survives a daemon
 * crash); the daemon moves the newest tail down behind the marker and truncates.
 *
 * Offsets ({@link readLogChunk}, `GET /jobs/{id}/logs?from=`, `seamless queue logs --from`)
 * count the bytes the job wrote, not the file's bytes: they never go back and stay valid across
 * trims. Bytes `[C/2, C/2 + D)` were dropped; a reader asking for an offset in (or just before)
 * that range gets a marker line saying how many of its bytes were dropped, then the tail, and
 * its next offset continues after them. The marker is not part of the offsets. Bytes the job
 * writes during the instant of a trim (between its last look at the size and the truncate)
 * can be lost without being counted.
 * @module
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { writeFileAtomic } from "../disk/atomic-write.ts";

/** Default cap of a kept log: 1 MiB head + 1 MiB tail. */
export const DEFAULT_LOG_CAP_BYTES = 2 * 1024 * 1024;

/** How often a running job's log is looked at (and trimmed when it outgrew its cap). */
export const LOG_TRIM_INTERVAL_MS = 100;
/** How soon it is looked at again after a trim: a job that writes fast is followed closely. */
export const LOG_TRIM_BUSY_INTERVAL_MS = 10;

const COUNT_WIDTH = 15;
const MARKER_PATTERN = /^\n\[seamless queue: +(\d+) bytes of log omitted\]\n$/;

/** The marker line saying `dropped` bytes were omitted (fixed width, so it can be rewritten in place). */
function omittedMarker(dropped: number): Buffer {
  return Buffer.from(`\n[seamless queue: ${String(dropped).padStart(COUNT_WIDTH)} bytes of log omitted]\n`);
}

const MARKER_LENGTH = omittedMarker(0).byteLength;

function headBytesOf(capBytes: number): number {
  return Math.floor(capBytes / 2);
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(Math.max(0, length));
  let done = 0;
  while (done < buffer.byteLength) {
    const n = readSync(fd, buffer, done, buffer.byteLength - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

function writeAt(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, position + done);
}

/** The dropped count of a trimmed log (its marker right after the head), or null: not trimmed. */
function droppedOf(fd: number, size: number, head: number): number | null {
  if (size < head + MARKER_LENGTH) return null;
  const match = MARKER_PATTERN.exec(readAt(fd, head, MARKER_LENGTH).toString("latin1"));
  return match ? Number(match[1]) : null;
}

/** What trimming a log to its cap means now: where the new tail starts and the new dropped count. */
interface TrimPlan {
  head: number;
  tail: number;
  tailStart: number;
  marker: Buffer;
}

/** Plans a trim when the log's kept tail is longer than the cap's tail by more than `slackBytes`. */
function planTrim(fd: number, capBytes: number, slackBytes: number): TrimPlan | null {
  const head = headBytesOf(capBytes);
  const tail = capBytes - head;
  const size = fstatSync(fd).size;
  const dropped = droppedOf(fd, size, head);
  const keptStart = dropped === null ? head : head + MARKER_LENGTH;
  if (size - keptStart <= tail + slackBytes) return null;
  const tailStart = size - tail;
  return { head, tail, tailStart, marker: omittedMarker((dropped ?? 0) + tailStart - keptStart) };
}

/** Runs `body` on the file opened with `flags`; false when it cannot be opened. */
function withLogFile(path: string, flags: string, body: (fd: number) => boolean): boolean {
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch {
    return false;
  }
  try {
    return body(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Trims a running job's log that holds more than `capBytes` + `slackBytes` to its head, the
 * marker and its newest `capBytes / 2` bytes, in place (the job keeps appending to the same
 * file). The slack lets the log grow by that much before the next trim, so that trimming copies
 * about as many bytes as the job writes, not more.
 *
 * @returns whether the file was trimmed (false also when it does not exist)
 */
export function trimLogFile(path: string, capBytes = DEFAULT_LOG_CAP_BYTES, slackBytes = capBytes / 2): boolean {
  return withLogFile(path, "r+", (fd) => {
    // At least a marker's worth of slack: the bytes moved down never overtake those still to read.
    const plan = planTrim(fd, capBytes, Math.max(slackBytes, MARKER_LENGTH));
    if (!plan) return false;
    const { head, tail, tailStart, marker } = plan;
    const newTail = readAt(fd, tailStart, tail);
    writeAt(fd, marker, head);
    let writeEnd = head + MARKER_LENGTH;
    writeAt(fd, newTail, writeEnd);
    writeEnd += newTail.byteLength;
    // What the job appended meanwhile is moved too, until the size holds still; a job that
    // writes as fast as this copies is not chased further than one more tail: the rest of what
    // it writes during the trim is lost (and the next trim would drop it anyway).
    for (let end = tailStart + newTail.byteLength, moved = 0; moved < tail; ) {
      const now = fstatSync(fd).size;
      if (now <= end) break;
      const more = readAt(fd, end, Math.min(now - end, tail - moved));
      moved += more.byteLength;
      writeAt(fd, more, writeEnd);
      writeEnd += more.byteLength;
      end += more.byteLength;
    }
    ftruncateSync(fd, writeEnd);
    return true;
  });
}

/**
 * Shrinks a finished log larger than `capBytes` to its first and last `capBytes / 2` bytes with
 * the marker line between them (see the module's layout), atomically: nothing appends to it any
 * more.
 *
 * @returns whether the file was shrunk
 */
export function capLogFile(path: string, capBytes = DEFAULT_LOG_CAP_BYTES): boolean {
  return withLogFile(path, "r", (fd) => {
    const plan = planTrim(fd, capBytes, 0);
    if (!plan) return false;
    writeFileAtomic(path, Buffer.concat([readAt(fd, 0, plan.head), plan.marker, readAt(fd, plan.tailStart, plan.tail)]));
    return true;
  });
}

/**
 * Reads a log from `offset` (an offset in the bytes the job wrote, see the module), at most
 * `maxBytes` of them (a marker line for dropped bytes comes on top).
 *
 * @param capBytes the cap the log was kept with (where its marker is)
 * @returns the bytes and the offset after them; empty when the file does not exist (yet)
 */
export function readLogChunk(path: string, offset: number, maxBytes = 1024 * 1024, capBytes = DEFAULT_LOG_CAP_BYTES): { data: Uint8Array; nextOffset: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return { data: new Uint8Array(0), nextOffset: offset };
  }
  try {
    const size = fstatSync(fd).size;
    const head = headBytesOf(capBytes);
    const dropped = droppedOf(fd, size, head);
    if (dropped === null) {
      const data = offset >= size ? Buffer.alloc(0) : readAt(fd, offset, Math.min(maxBytes, size - offset));
      return { data, nextOffset: offset + data.byteLength };
    }
    const parts: Buffer[] = [];
    let position = offset;
    let budget = maxBytes;
    if (position < head) {
      const part = readAt(fd, position, Math.min(budget, head - position));
      parts.push(part);
      position += part.byteLength;
      budget -= part.byteLength;
    }
    if (budget > 0 && position >= head && position < head + dropped) {
      parts.push(omittedMarker(head + dropped - position));
      position = head + dropped;
    }
    const filePosition = position - dropped + MARKER_LENGTH;
    if (budget > 0 && position >= head + dropped && filePosition < size) {
      const part = readAt(fd, filePosition, Math.min(budget, size - filePosition));
      parts.push(part);
      position += part.byteLength;
    }
    return { data: Buffer.concat(parts), nextOffset: position };
  } finally {
    closeSync(fd);
  }
}
