import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { fsPromises } from "../lazy-node.ts";

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
  const fd = openSync(temp, "w", mode ?? 0o666);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    closeSync(fd);
    renameSync(temp, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(temp, { force: true });
    throw error;
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
    await fsPromises().rm(temp, { force: true });
    throw error;
  }
}
