/**
 * Preparing a command as `seamless run` does, without running or storing anything: parse it
 * (parse cache), type its arguments, hash its inputs (stat cache), wait for `.FUTURE` inputs.
 * Shared by `seamless explain`/`forget` and queued jobs.
 * @module
 */
import { StatCache } from "../checksum/stat-cache.ts";
import { statCachePathOf } from "../buffers/cache-dir.ts";
import { parseCommandLineCached } from "../bash/parse-cache.ts";
import { prepareBashTransformation, type BashRunRequest, type PreparedBash } from "../transformation/prepare-bash.ts";
import { waitForFuture } from "./futures.ts";
import type { Log } from "../log.ts";

/** Prepares a command as `seamless run` does (parse, type arguments, hash inputs): nothing executes, nothing is stored. */
export async function prepareCommand(request: BashRunRequest, cacheDir: string, log: Log): Promise<PreparedBash> {
  const line = await parseCommandLineCached(request.command, cacheDir);
  const statCache = new StatCache(statCachePathOf(cacheDir));
  try {
    return await prepareBashTransformation(request, line, statCache, (path) => waitForFuture(path, log));
  } finally {
    statCache.close();
  }
}
