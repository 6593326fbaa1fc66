/**
 * The result cache a configuration selects (services-spec §7.1): the embedded `seamless.db`
 * (levels 0–1), or a database server (level 2).
 * @module
 */
import type { SeamlessConfig } from "../config/mod.ts";
import { ResultCache } from "../cache/result-cache.ts";
import { join } from "node:path";

/**
 * Opens the result cache of the configuration.
 *
 * @param config the resolved configuration
 * @returns the cache
 */
export async function openResultCacheFor(config: SeamlessConfig, _options: { say?: (text: string) => void } = {}): Promise<ResultCache> {
  const choice = config.clients.database[0];
  if (choice?.kind === "sqlite") return new ResultCache(choice.path);
  // Until the database client lands, a configured database server falls back to the embedded cache.
  return new ResultCache(join(config.cacheDir, "__TOPLEVEL__", "seamless.db"));
}
