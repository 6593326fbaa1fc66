/**
 * The result cache a configuration selects (services-spec §6.3, §7.1): the embedded
 * `seamless.db` (levels 0–1), or database servers (level 2): extern URLs and launched servers,
 * read in order, written where not read-only.
 * @module
 */
import type { SeamlessConfig } from "../config/mod.ts";
import { SqliteResultCache } from "../cache/result-cache.ts";
import type { ResultCache } from "../cache/store.ts";
import { join } from "node:path";
import { launchContextOf, urlOfClient } from "./_launch.ts";
import type { Log } from "../log.ts";

/**
 * Opens the result cache of the configuration, launching database servers on the way. When
 * every database server is read-only, results are still written to (and read first from) the
 * embedded file.
 *
 * @param config the resolved configuration
 * @returns the cache
 * @throws {LaunchError} when a launched database cannot be started (its log is named)
 * @example Embedded default
 * ```ts
 * const cache = await openResultCacheFor(resolveConfig({ SEAMLESS_CACHE: dir }, dir));
 * assert(cache instanceof SqliteResultCache);
 * ```
 */
export async function openResultCacheFor(config: SeamlessConfig, options: { log?: Log } = {}): Promise<ResultCache> {
  const choices = config.clients.database;
  const servers = choices.filter((c) => c.kind === "url" || c.kind === "launch");
  const embedded = choices.find((c) => c.kind === "sqlite");
  if (servers.length === 0) return new SqliteResultCache(embedded?.kind === "sqlite" ? embedded.path : join(config.cacheDir, "__TOPLEVEL__", "seamless.db"));
  const { DatabaseClient, parseMaxInflight } = await import("../clients/database.ts");
  const { FanOutResultCache } = await import("../cache/fan-out.ts");
  const maxInflight = parseMaxInflight(config.databaseMaxInflight ?? undefined);
  const context = launchContextOf(config, options.log);
  const clients: ResultCache[] = [];
  const writers: ResultCache[] = [];
  for (const choice of servers) {
    const url = await urlOfClient(choice, context);
    const client = new DatabaseClient(url, { readonly: choice.readonly, maxInflight, healthy: choice.kind === "launch" });
    clients.push(client);
    if (!choice.readonly) writers.push(client);
  }
  if (clients.length === 1 && writers.length === 1) return clients[0]!;
  if (writers.length > 0) return new FanOutResultCache(clients, writers);
  const local = new SqliteResultCache(join(config.cacheDir, "__TOPLEVEL__", "seamless.db"));
  return new FanOutResultCache([local, ...clients], [local]);
}
