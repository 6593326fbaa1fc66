/** A lock on a launcher key, so that two clients racing to launch the same server start it once. */
import { join } from "node:path";
import { acquirePidLock } from "../concurrency/pid-lock.ts";
import { LaunchError } from "./launch-error.ts";

/**
 * Takes `<dir>/<key>.lock`.
 *
 * @returns a function that releases the lock
 * @throws {LaunchError} when another live process holds it longer than `timeoutMs`
 */
export async function lockKey(dir: string, key: string, timeoutMs: number): Promise<() => void> {
  const path = join(dir, `${key}.lock`);
  const deadline = Date.now() + timeoutMs;
  let holder: number | null = null;
  const lock = await acquirePidLock(path, () => Date.now() > deadline, (pid) => (holder = pid));
  if (!lock) throw new LaunchError(`Cannot launch "${key}": another process (pid ${holder}) has been launching it for ${Math.round(timeoutMs / 1000)} s; lock "${path}"`);
  return () => lock.release();
}
