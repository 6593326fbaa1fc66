/**
 * A lock on a launcher key, so that two clients racing to launch the same server start it once:
 * a lock file created with O_EXCL holding the owner's pid; a lock left by a dead process is
 * broken; waiting is bounded.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive } from "./_files.ts";
import { LaunchError } from "./launch-error.ts";

/**
 * Takes `<dir>/<key>.lock`.
 *
 * @returns a function that releases the lock
 * @throws {LaunchError} when another live process holds it longer than `timeoutMs`
 */
export async function lockKey(dir: string, key: string, timeoutMs: number): Promise<() => void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${key}.lock`);
  const deadline = Date.now() + timeoutMs;
  let delayMs = 10;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(path, "utf8"));
    } catch {
      continue; // released in between
    }
    // An empty file is a lock being written this instant; a dead holder's lock is broken.
    if (Number.isInteger(holder) && holder > 0 && !isProcessAlive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new LaunchError(`Cannot launch "${key}": another process (pid ${holder}) has been launching it for ${Math.round(timeoutMs / 1000)} s; lock "${path}"`);
    await Bun.sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 200);
  }
}
