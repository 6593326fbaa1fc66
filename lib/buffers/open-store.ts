import { BufferDir } from "./bufferdir.ts";
import { projectDirOf, resolveCacheDir } from "./cache-dir.ts";
import type { BufferStore } from "./store.ts";
import { bufferServerUrlOf } from "../clients/remote-clients.ts";

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
 * Opens the buffer store: a hashserver when one is named, else the embedded cache directory
 * `<cache>/__TOPLEVEL__/` in prefix layout, shared with Python's `SEAMLESS_CACHE` mode.
 */
export async function openBufferStore(choice: StoreChoice = {}): Promise<BufferStore> {
  const url = remoteUrlOf(choice);
  if (url) {
    const { HttpBufferStore } = await import("./http-store.ts");
    return new HttpBufferStore(url);
  }
  return openCacheBufferDir(choice.env);
}

/** The local cache directory's buffer store, created if needed. */
export function openCacheBufferDir(env: Record<string, string | undefined> = process.env): BufferDir {
  const store = new BufferDir(projectDirOf(resolveCacheDir(env)), { layout: "prefix" });
  store.ensureExists();
  return store;
}
