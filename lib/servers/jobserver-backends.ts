/**
 * What a jobserver runs against, from the `parameters` of its status file (services-spec
 * §4.1, §6.5): the buffer server its workers read inputs from and store results in, and the
 * result cache it consults. Without parameters it serves the local cache directory, whose
 * `seamless.db` it then also writes.
 * @module
 */
import { BufferDir } from "../buffers/bufferdir.ts";
import { projectDirOf, resultCachePathOf } from "../buffers/cache-dir.ts";
import type { BufferStore } from "../buffers/store.ts";
import { SqliteResultCache, type ExecutionRecord } from "../cache/result-cache.ts";
import { recordResult } from "../execute/compute.ts";
import { cacheDirOf, resolveConfig, type ClientChoice, type Env } from "../config/mod.ts";
import { VERSION } from "../version.ts";
import { os } from "../disk/lazy-node.ts";
import type { JobserverResultCache } from "./jobserver.ts";
import type { BucketProbeLookup } from "../record/bucket-probes.ts";

/** The jobserver's backends. */
export interface JobserverBackends {
  store: BufferStore;
  results: JobserverResultCache | null;
  /** Flags that give a worker the same buffer store. */
  workerArgs: string[];
  /** `SEAMLESS_REMOTE_CLIENTS` for the Python runner (the parameters as given), or null. */
  remoteClients: string | null;
  recordMode: boolean;
  /** The database's bucket probes (record mode's preconditions), or null without a database. */
  bucketProbes: BucketProbeLookup | null;
  /** What the user should know (e.g. a database that is not consulted). */
  notes: string[];
  close(): void;
}

function localResults(cacheDir: string): { results: JobserverResultCache; close: () => void } {
  const cache = new SqliteResultCache(resultCachePathOf(cacheDir));
  return {
    results: {
      getResult: (tf) => cache.getResult(tf),
      recordResult: async (tf, result, runtime) => {
        const record: ExecutionRecord = {
          schema_version: 1,
          tf_checksum: tf,
          result_checksum: result,
          seamless_version: VERSION,
          execution_mode: "jobserver",
          remote_target: null,
          wall_time_seconds: runtime.wall_time_seconds,
          cpu_time_user_seconds: runtime.cpu_user_seconds,
          cpu_time_system_seconds: runtime.cpu_system_seconds,
          memory_peak_bytes: runtime.memory_peak_bytes,
          gpu_memory_peak_bytes: null,
          hostname: os().hostname(),
          started_at: runtime.started_at,
          implementation: "seamless (TypeScript)",
        };
        await recordResult(cache, tf, result, record);
      },
    },
    close: () => cache.close(),
  };
}

/**
 * Opens the backends named by the status-file parameters (`{"buffer": [...], "database": [...],
 * "record": bool}`), read with the newer jobserver's in-remote view (`remote_url` before `url`).
 *
 * @param parameters the `parameters` object of the status file, or null
 * @param env the environment (for the cache directory when no buffer server is named)
 * @throws {ConfigError} for malformed parameters
 */
export async function openJobserverBackends(parameters: Record<string, unknown> | null, env: Env): Promise<JobserverBackends> {
  const notes: string[] = [];
  const recordMode = parameters?.record === true;
  const given = parameters && (Array.isArray(parameters.buffer) && parameters.buffer.length > 0 || Array.isArray(parameters.database) && parameters.database.length > 0);
  if (!given) {
    const cacheDir = cacheDirOf(env);
    const store = new BufferDir(projectDirOf(cacheDir), { layout: "prefix" });
    store.ensureExists();
    const { results, close } = localResults(cacheDir);
    return { store, results, workerArgs: ["--buffer-dir", store.directory], remoteClients: null, recordMode, bucketProbes: null, notes, close: () => (close(), store.close()) };
  }
  const remoteClients = JSON.stringify({ buffer: parameters.buffer ?? [], database: parameters.database ?? [] });
  const config = resolveConfig({ HOME: env.HOME, SEAMLESS_REMOTE_CLIENTS: remoteClients }, "/");
  const urls = config.clients.buffer.filter((c): c is Extract<ClientChoice, { kind: "url" }> => c.kind === "url");
  const writable = urls.find((c) => !c.readonly) ?? urls[0];
  let store: BufferStore;
  let workerArgs: string[];
  if (writable) {
    const { HttpBufferStore } = await import("../buffers/http-store.ts");
    store = new HttpBufferStore(writable.url);
    workerArgs = ["--hashserver", writable.url];
    if (writable.readonly) notes.push(`buffer server ${writable.url} is read-only: results cannot be stored there`);
  } else {
    const folder = config.clients.buffer.find((c): c is Extract<ClientChoice, { kind: "folder" }> => c.kind === "folder");
    const directory = folder?.directory ?? projectDirOf(cacheDirOf(env));
    const dir = new BufferDir(directory);
    store = dir;
    workerArgs = ["--buffer-dir", directory];
  }
  // The database is read only: its clients write results and execution records (services-spec §4.4).
  const database = config.clients.database.find((c): c is Extract<ClientChoice, { kind: "url" }> => c.kind === "url");
  let results: JobserverResultCache | null = null;
  let bucketProbes: BucketProbeLookup | null = null;
  let closeDatabase = () => {};
  if (database) {
    const { DatabaseClient, parseMaxInflight } = await import("../clients/database.ts");
    const client = new DatabaseClient(database.url, { readonly: true, maxInflight: parseMaxInflight(env.SEAMLESS_DATABASE_MAX_INFLIGHT) });
    results = { getResult: (tf) => client.getResult(tf) };
    bucketProbes = (kind, label) => client.getBucketProbe(kind, label);
    closeDatabase = () => client.close();
  }
  return { store, results, workerArgs, remoteClients, recordMode, bucketProbes, notes, close: () => (closeDatabase(), store.close()) };
}
