/**
 * The embedded default store: the cache directory laid out exactly as Python Seamless lays
 * out a `SEAMLESS_CACHE` directory (services-spec §7.3): buffers in `<dir>/__TOPLEVEL__/`
 * (prefix layout), the result cache in `<dir>/__TOPLEVEL__/seamless.db`.
 * @module
 */
import { join } from "node:path";

/** Where the buffers and `seamless.db` of the default project live inside a cache directory. */
export function projectDirOf(cacheDir: string): string {
  return join(cacheDir, "__TOPLEVEL__");
}

/** Path of the result cache (`seamless.db`, the Python schema) inside a cache directory. */
export function resultCachePathOf(cacheDir: string): string {
  return join(projectDirOf(cacheDir), "seamless.db");
}

/** Path of our private stat cache inside a cache directory. */
export function statCachePathOf(cacheDir: string): string {
  return join(cacheDir, "stat-cache.sqlite");
}
