/**
 * The buffer store a configuration selects (services-spec §6.2, §6.5, §7.1): the embedded cache
 * directory (level 0), buffer folders, extern hashserver URLs, or a launched hashserver (whose
 * directory is also read directly when it runs on this machine).
 * @module
 */
import type { SeamlessConfig } from "../config/mod.ts";
import { BufferDir } from "../buffers/bufferdir.ts";
import type { BufferStore } from "../buffers/store.ts";
import { launchContextOf, urlOfClient } from "./_launch.ts";
import type { Log } from "../log.ts";

/** Options of {@link openBufferStoreFor}. */
export interface OpenOptions {
  /** Says what is launched (level 1). */
  log?: Log;
}

/**
 * Opens the buffer clients of the configuration as one store: read folders before servers,
 * the first hit wins; writes go to every writable client, or to the embedded cache when none is
 * writable. A single client is returned as itself. Launched servers are found or started on the
 * way.
 *
 * @param config the resolved configuration
 * @returns the store
 * @throws {LaunchError} when a launched hashserver cannot be started
 * @example Embedded default
 * ```ts
 * const store = await openBufferStoreFor(resolveConfig({ SEAMLESS_CACHE: dir }, dir));
 * assert(store.local !== undefined); // a local buffer directory
 * ```
 */
export async function openBufferStoreFor(config: SeamlessConfig, options: OpenOptions = {}): Promise<BufferStore> {
  const folders: BufferStore[] = [];
  const servers: BufferStore[] = [];
  const writers: BufferStore[] = [];
  for (const choice of config.clients.buffer) {
    if (choice.kind === "sqlite") continue;
    if (choice.kind === "folder") {
      const folder = new BufferDir(choice.directory, choice.readonly ? {} : { layout: "prefix" });
      if (!choice.readonly) folder.ensureExists();
      folders.push(folder);
      if (!choice.readonly) writers.push(folder);
      continue;
    }
    const url = await urlOfClient(choice, launchContextOf(config, options.log));
    const { HttpBufferStore } = await import("../buffers/http-store.ts");
    const server = new HttpBufferStore(url, { healthy: choice.kind === "launch" });
    // A hashserver of this machine: its directory is read directly (services-spec §6.5).
    if (choice.kind === "launch" && choice.plan.local) folders.push(new BufferDir(choice.plan.workdir.replace(/^~(?=\/|$)/, config.home)));
    servers.push(server);
    if (!choice.readonly) writers.push(server);
  }
  const readers = [...folders, ...servers];
  if (readers.length === 1 && writers.length === 1) return readers[0]!;
  const { FanOutBufferStore } = await import("../buffers/fan-out-store.ts");
  if (writers.length > 0) return new FanOutBufferStore(readers, writers);
  const local = new BufferDir(`${config.cacheDir}/__TOPLEVEL__`, { layout: "prefix" });
  local.ensureExists();
  return new FanOutBufferStore([local, ...readers], [local]);
}
