/**
 * The buffer store a configuration selects (services-spec §6.5, §7.1): the embedded cache
 * directory (level 0), a buffer folder, an extern hashserver URL, or a launched hashserver.
 * @module
 */
import type { ClientChoice, SeamlessConfig } from "../config/mod.ts";
import { BufferDir } from "../buffers/bufferdir.ts";
import type { BufferStore } from "../buffers/store.ts";
import { SeamlessError } from "../errors.ts";
import { FanOutBufferStore } from "../buffers/fan-out-store.ts";
import { join } from "node:path";
import { launchContextOf, urlOfClient } from "./_launch.ts";

/** Options of {@link openBufferStoreFor}. */
export interface OpenOptions {
  /** Progress messages (launching). */
  say?: (text: string) => void;
  /** Refuse read-only clients (for writing commands). */
  write?: boolean;
}

/**
 * Opens the first usable buffer client of the configuration: for writing, the first writable
 * one; launched servers are found or started on the way.
 *
 * @param config the resolved configuration
 * @returns the store
 * @throws {LaunchError} when a launched hashserver cannot be started
 * @throws {SeamlessError} when writing is asked and every buffer client is read-only
 */
export async function openBufferStoreFor(config: SeamlessConfig, options: OpenOptions = {}): Promise<BufferStore> {
  const clients = config.clients.buffer;
  const servers = clients.filter((c) => c.kind === "url" || c.kind === "launch");
  // Several buffer clients (SEAMLESS_REMOTE_CLIENTS, services-spec §6.2, §6.5): read folders
  // first, then servers, first hit wins; writes go to every writable server.
  if (clients.length > 1 || (servers.length === 1 && servers[0]!.readonly)) {
    const folders = clients.filter((c) => c.kind === "folder");
    const readers: BufferStore[] = [];
    const writers: BufferStore[] = [];
    for (const choice of [...folders, ...servers]) {
      const store = await openOneBufferClient(choice, config, options);
      readers.push(store);
      if (!("readonly" in choice) || !choice.readonly) writers.push(store);
    }
    if (writers.length === 0) {
      if (servers.length === 0) return readers.length === 1 ? readers[0]! : new FanOutBufferStore(readers, []);
      // Only read-only servers: what this machine computes goes to the local cache.
      const local = new BufferDir(join(config.cacheDir, "__TOPLEVEL__"), { layout: "prefix" });
      local.ensureExists();
      return new FanOutBufferStore([local, ...readers], [local]);
    }
    return new FanOutBufferStore(readers, writers);
  }
  const candidates = options.write ? clients.filter((c) => !("readonly" in c) || !c.readonly) : clients;
  const choice: ClientChoice | undefined = candidates[0] ?? (options.write ? undefined : clients[0]);
  if (!choice) throw new SeamlessError("No writable buffer client: every buffer client in SEAMLESS_REMOTE_CLIENTS is read-only");
  return openOneBufferClient(choice, config, options);
}

async function openOneBufferClient(choice: ClientChoice, config: SeamlessConfig, options: OpenOptions): Promise<BufferStore> {
  if (choice.kind === "folder") {
    const store = new BufferDir(choice.directory, { layout: "prefix" });
    if (!choice.readonly) store.ensureExists();
    return store;
  }
  if (choice.kind === "sqlite") throw new SeamlessError("A result cache is not a buffer store");
  const url = await urlOfClient(choice, launchContextOf(config, options.say));
  const { HttpBufferStore } = await import("../buffers/http-store.ts");
  const server = new HttpBufferStore(url, { healthy: choice.kind === "launch" });
  if (choice.kind !== "launch" || !choice.plan.local) return server;
  // A hashserver of this machine: its directory is read directly (services-spec §6.5).
  const { FolderFirstStore } = await import("../buffers/folder-first-store.ts");
  return new FolderFirstStore(new BufferDir(choice.plan.workdir.replace(/^~(?=\/|$)/, config.home)), server);
}
