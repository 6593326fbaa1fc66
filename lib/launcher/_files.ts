/** Where the launcher keeps its files (services-spec §5.2), and how it writes them. */
import { chmodSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import { LAUNCHER_FILE_MODE } from "../wire/launcher.ts";

/** `<dir>/client/<key>.json`. */
export function clientFileOf(launcherDir: string, key: string): string {
  return join(launcherDir, "client", `${key}.json`);
}

/** `<dir>/server/<key>.json`; the log is `<key>.log` beside it. */
export function serverFileOf(launcherDir: string, key: string): string {
  return join(launcherDir, "server", `${key}.json`);
}

/** The service log next to its server JSON. */
export function logFileOf(launcherDir: string, key: string): string {
  return join(launcherDir, "server", `${key}.log`);
}

/** Writes a launcher JSON atomically with mode 0600. */
export function writeLauncherJson(path: string, value: unknown): void {
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, `${JSON.stringify(value)}\n`, LAUNCHER_FILE_MODE);
  chmodSync(path, LAUNCHER_FILE_MODE); // the umask may have been looser than 0600 allows
}

/** The text of a file, or null when it does not exist. */
export function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Removes a file if present. */
export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

export { isPidAlive as isProcessAlive } from "../concurrency/pid-lock.ts";
