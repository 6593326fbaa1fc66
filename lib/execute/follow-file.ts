/**
 * Follows a file another process is writing (the `RESULT` that a stdout-capture command's
 * stdout is redirected into), handing over its new bytes as they appear. The command keeps
 * writing to a plain file, so what it sees and what is stored stay exactly as without following.
 * @module
 */
import { closeSync, openSync, readSync } from "node:fs";

/** How often the file is looked at while the command runs. */
const POLL_MS = 100;
const CHUNK_BYTES = 1024 * 1024;

/** A file being followed. */
export interface FollowedFile {
  /** Hands over whatever was written since the last look and stops following. */
  finish(): void;
}

/**
 * Starts following `path` (it may not exist yet); `onBytes` receives the raw bytes, in order, once each.
 *
 * @param path the file to follow
 * @param onBytes receives each new stretch of bytes
 */
export function followFile(path: string, onBytes: (bytes: Uint8Array) => void): FollowedFile {
  let fd: number | null = null;
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const drain = () => {
    if (fd === null) {
      try {
        fd = openSync(path, "r");
      } catch {
        return; // not created yet
      }
    }
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch {
        return;
      }
      if (n <= 0) return;
      onBytes(Buffer.from(chunk.subarray(0, n)));
    }
  };
  const timer = setInterval(drain, POLL_MS);
  return {
    finish() {
      clearInterval(timer);
      drain();
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
