/**
 * Writes to stdout and stderr by file descriptor. In a compiled Bun binary, merely touching
 * `process.stdout` or `process.stderr` builds Node streams and costs ~11 ms of start-up
 * (BENCHMARKS.md), which is most of a cache hit; `fs.writeSync` costs nothing.
 * @module
 */
import { writeSync } from "node:fs";
import { isatty } from "node:tty";

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

/** Whether stderr is a terminal (for progress lines). */
export function stderrIsTerminal(): boolean {
  return isatty(2);
}

/** Whether stdin is a terminal (for prompts). */
export function stdinIsTerminal(): boolean {
  return isatty(0);
}
