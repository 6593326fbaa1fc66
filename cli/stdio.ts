/**
 * Writes to stdout and stderr by file descriptor. In a compiled Bun binary, merely touching
 * `process.stdout` or `process.stderr` builds Node streams and costs ~11 ms of start-up
 * (BENCHMARKS.md), which is most of a cache hit; `fs.writeSync` costs nothing.
 * @module
 */
import { fstatSync, writeSync } from "node:fs";

function writeAll(fd: number, data: string | Uint8Array): void {
  let bytes = typeof data === "string" ? Buffer.from(data) : data;
  while (bytes.length > 0) {
    try {
      const written = writeSync(fd, bytes);
      bytes = bytes.subarray(written);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") continue; // a non-blocking pipe is full: try again
      if (code === "EPIPE") return; // the reader went away (e.g. `| head`)
      throw error;
    }
  }
}

/** Writes data to stdout. */
export function writeStdout(data: string | Uint8Array): void {
  writeAll(1, data);
}

/** Writes a message to stderr. */
export function writeStderr(data: string): void {
  writeAll(2, data);
}

/** `isatty`, loaded on first use: importing `node:tty` costs ~5 ms of start-up (BENCHMARKS.md). */
function isTerminal(fd: number): boolean {
  const { isatty } = require("node:tty") as typeof import("node:tty");
  return isatty(fd);
}

/** Whether stderr is a terminal (for progress lines). */
export function stderrIsTerminal(): boolean {
  return isTerminal(2);
}

/** Whether stdout is a terminal (`run` then shows a command's stdout as it comes). */
export function stdoutIsTerminal(): boolean {
  // fstat first: a pipe, a file or /dev/null (the scripted and benchmarked cases) never pays for
  // loading node:tty, which brings in the Node stream modules (~3-5 ms of a cache hit).
  try {
    const stats = fstatSync(1);
    if (!stats.isCharacterDevice()) return false;
    // Linux memory devices (/dev/null, /dev/zero, /dev/full: major 1) are never terminals.
    if (((stats.rdev >> 8) & 0xfff) === 1) return false;
  } catch {
    return false;
  }
  return isTerminal(1);
}

/** Whether stdin is a terminal (for prompts). */
export function stdinIsTerminal(): boolean {
  return isTerminal(0);
}
