/**
 * The `seamless` library API: checksums, serialization, sidecars, buffer stores, the hashserver
 * protocol and service, bash transformations and their result cache.
 * @module
 */
export * from "./lib/errors.ts";
export * from "./lib/checksum/checksum.ts";
export * from "./lib/checksum/sha256.ts";
export * from "./lib/checksum/sidecar.ts";
export * from "./lib/checksum/file-checksum.ts";
export * from "./lib/checksum/compression.ts";
export * from "./lib/checksum/stat-cache.ts";
export * from "./lib/serialize/plain-json.ts";
export * from "./lib/serialize/celltypes.ts";
export * from "./lib/serialize/deep-index.ts";
export type { BufferStore } from "./lib/buffers/store.ts";
export * from "./lib/buffers/bufferdir.ts";
export * from "./lib/buffers/http-store.ts";
export * from "./lib/buffers/open-store.ts";
export * from "./lib/buffers/cache-dir.ts";
export * from "./lib/wire/hashserver.ts";
export * from "./lib/servers/http.ts";
export * from "./lib/servers/hashserver.ts";
export * from "./lib/servers/serve.ts";
export * from "./lib/bash/parse.ts";
export * from "./lib/transformation/dict.ts";
export * from "./lib/transformation/bash-code.ts";
export * from "./lib/transformation/prepare-bash.ts";
export * from "./lib/cache/result-cache.ts";
export * from "./lib/execute/compute.ts";
