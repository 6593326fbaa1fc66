import { resultCachePathOf } from "../buffers/cache-dir.ts";
import { externClientsOf } from "../clients/remote-clients.ts";
import { FanOutResultCache } from "./fan-out.ts";
import { SqliteResultCache } from "./result-cache.ts";
import type { ResultCache } from "./store.ts";

/**
 * Opens the result cache: the database servers named by `SEAMLESS_DATABASE` and
 * `SEAMLESS_REMOTE_CLIENTS` (read in order, written where not read-only), else the embedded
 * `seamless.db` of the cache directory. When every named server is read-only, results are
 * still written to (and read first from) the embedded file.
 *
 * @param cacheDir the cache directory (for the embedded file)
 * @param env the environment
 * @throws {SeamlessError} when `SEAMLESS_REMOTE_CLIENTS` is malformed
 */
export async function openResultCache(cacheDir: string, env: Record<string, string | undefined> = process.env): Promise<ResultCache> {
  const servers = externClientsOf(env).database;
  if (servers.length === 0) return new SqliteResultCache(resultCachePathOf(cacheDir));
  const { DatabaseClient, parseMaxInflight } = await import("../clients/database.ts");
  const maxInflight = parseMaxInflight(env.SEAMLESS_DATABASE_MAX_INFLIGHT);
  const clients = servers.map((server) => new DatabaseClient(server.url!, { readonly: server.readonly, maxInflight }));
  const writers = clients.filter((_, i) => !servers[i]!.readonly);
  if (clients.length === 1 && writers.length === 1) return clients[0]!;
  if (writers.length > 0) return new FanOutResultCache(clients, writers);
  const local = new SqliteResultCache(resultCachePathOf(cacheDir));
  return new FanOutResultCache([local, ...clients], [local]);
}
