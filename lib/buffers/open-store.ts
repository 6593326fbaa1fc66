import { BufferDir } from "./bufferdir.ts";
import { projectDirOf, resolveCacheDir } from "./cache-dir.ts";
import type { BufferStore } from "./store.ts";
import { bufferServerUrlOf, externClientsOf, type ExternClient } from "../clients/remote-clients.ts";
import { FanOutBufferStore } from "./fan-out-store.ts";

/** Where buffers go: a remote hashserver URL, else the local cache directory. */
export interface StoreChoice {
  /** `--hashserver URL`; falls back to `$SEAMLESS_HASHSERVER`, then `$SEAMLESS_REMOTE_CLIENTS`. */
  hashserverUrl?: string;
  env?: Record<string, string | undefined>;
}

/** True when the choice names a remote hashserver. */
export function remoteUrlOf(choice: StoreChoice): string | undefined {
  const env = choice.env ?? process.env;
  return choice.hashserverUrl || env.SEAMLESS_HASHSERVER?.trim() || bufferServerUrlOf(env) || undefined;
}

/**
 * Opens the buffer store: the hashserver of `--hashserver` or `SEAMLESS_HASHSERVER`; else the
 * buffer clients of `SEAMLESS_REMOTE_CLIENTS` (one writable server as itself, several as a
 * fan-out); else the embedded cache directory `<cache>/__TOPLEVEL__/` in prefix layout, shared
 * with Python's `SEAMLESS_CACHE` mode.
 */
export async function openBufferStore(choice: StoreChoice = {}): Promise<BufferStore> {
  const env = choice.env ?? process.env;
  const url = remoteUrlOf(choice);
  if (!url) return openCacheBufferDir(choice.env);
  const { HttpBufferStore } = await import("./http-store.ts");
  const explicit = choice.hashserverUrl || env.SEAMLESS_HASHSERVER?.trim();
  const entries = explicit ? [] : externClientsOf(env).buffer;
  const servers = entries.filter((entry) => entry.url);
  if (explicit || (servers.length === 1 && !servers[0]!.readonly && entries.length === 1)) return new HttpBufferStore(url);
  return openBufferFanOut(entries, HttpBufferStore, env);
}

/**
 * The buffer clients of `SEAMLESS_REMOTE_CLIENTS` as one store (services-spec §6.2, §6.5): read
 * folders (entries with a directory and no URL), then servers, first hit wins; writes to every
 * writable server, or to the local cache when none is writable.
 */
function openBufferFanOut(entries: ExternClient[], HttpBufferStore: new (url: string) => BufferStore, env: Record<string, string | undefined>): BufferStore {
  const folders = entries.filter((entry) => !entry.url && entry.directory).map((entry) => new BufferDir(entry.directory!));
  const servers = entries.filter((entry) => entry.url).map((entry) => ({ store: new HttpBufferStore(entry.url!), readonly: entry.readonly }));
  const writers = servers.filter((server) => !server.readonly).map((server) => server.store);
  const readers = [...folders, ...servers.map((server) => server.store)];
  if (writers.length > 0) return new FanOutBufferStore(readers, writers);
  const local = openCacheBufferDir(env);
  return new FanOutBufferStore([local, ...readers], [local]);
}

/** The local cache directory's buffer store, created if needed. */
export function openCacheBufferDir(env: Record<string, string | undefined> = process.env): BufferDir {
  const store = new BufferDir(projectDirOf(resolveCacheDir(env)), { layout: "prefix" });
  store.ensureExists();
  return store;
}
