import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { fsPromises } from "./lazy-node.ts";
import { DiskWriteError } from "../errors.ts";

/** What the file system said, in words, for the write errors a user can act on. */
const DISK_ERRORS: Record<string, string> = {
  ENOSPC: "No space left on device",
  EDQUOT: "Disk quota exceeded",
  EROFS: "Read-only file system",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EFBIG: "File too large",
};

/**
 * Turns a full disk, a quota, a read-only file system or a refused permission into one clear
 * {@link DiskWriteError} naming `path`; any other error is returned as it is.
 *
 * @param error what a write threw
 * @param path the file being written (the final name, not the temp file)
 */
export function describeWriteError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (error instanceof DiskWriteError || !code || !(code in DISK_ERRORS)) return error;
  return new DiskWriteError(`${DISK_ERRORS[code]}: cannot write "${path}"`, code, { cause: error });
}

/**
 * Writes all of `bytes` at the file's current offset. `write(2)` may write less than asked
 * (a nearly full disk writes what fits and says so only in its count): the rest is written
 * again, which then fails with the real error (ENOSPC) instead of being silently dropped.
 */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    const n = writeSync(fd, bytes, done, bytes.byteLength - done);
    if (n <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    done += n;
  }
}

/**
 * Checks that the file behind `fd` holds exactly `expectedBytes` before it is renamed into
 * place: the last guard against committing a short file under a full file's name.
 */
export function assertWrittenSize(fd: number, expectedBytes: number, path: string): void {
  const size = fstatSync(fd).size;
  if (size !== expectedBytes) {
    throw new DiskWriteError(`Short write: "${path}" holds ${size} of ${expectedBytes} bytes`, "EIO");
  }
}

let counter = 0;
let owner = String(process.pid);

/** Makes this thread's temp-file names differ from the main thread's (each thread counts from 1). */
export function tagTempNames(thread: string): void {
  owner = `${process.pid}-${thread}`;
}

/**
 * A hidden temp-file name in the same directory as `path`, so that rename stays atomic.
 * Unique by process id, thread tag and a counter; built with plain string operations because
 * it is on the path of every stored buffer and sidecar.
 */
export function tempPathFor(path: string): string {
  const slash = path.lastIndexOf("/");
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${owner}.${++counter}.tmp`;
}

/**
 * Writes a file atomically: temp file in the same directory, then rename. A crash leaves
 * either the old file or the new one, never half of it.
 *
 * @param path the final path
 * @param data the bytes or text to write
 * @param mode optional mode for the new file (as `open` applies it: the umask still applies)
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): void {
  const temp = tempPathFor(path);
  let fd: number;
  try {
    fd = openSync(temp, "w", mode ?? 0o666);
  } catch (error) {
    throw describeWriteError(error, path);
  }
  try {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    writeAllSync(fd, bytes);
    closeSync(fd);
    renameSync(temp, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(temp, { force: true });
    throw describeWriteError(error, path);
  }
}

/** Async {@link writeFileAtomic}, for many small files written concurrently. */
export async function writeFileAtomicAsync(path: string, data: Uint8Array | string, mode?: number): Promise<void> {
  const temp = tempPathFor(path);
  try {
    const { writeFile, rename } = fsPromises();
    await writeFile(temp, data, mode === undefined ? undefined : { mode });
    await rename(temp, path);
  } catch (error) {
    // writeFile loops until every byte is written, so a full disk is an error here, not a short file.
    await fsPromises().rm(temp, { force: true });
    throw describeWriteError(error, path);
  }
}
