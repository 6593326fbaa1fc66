/**
 * Buffer stores (cli-spec §4–§6, services-spec §6.2): the `BufferStore` interface, a local buffer directory in the hashserver layout, a hashserver client, the cache-directory default, storing missing buffers, and download planning (uploads: lib/upload).
 * @module
 */
export type { BufferStore } from "./store.ts";
export * from "./bufferdir.ts";
export * from "./http-store.ts";
export * from "./fan-out-store.ts";
export * from "./cache-dir.ts";
export * from "./transfer.ts";
export * from "./download.ts";
