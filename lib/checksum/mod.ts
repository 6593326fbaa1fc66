/**
 * Checksums, files and sidecars: SHA-256 as 64 lower-case hex (cli-spec §1.1, services-spec §0.3), streaming file hashing with a stat cache (large files on every core), `.CHECKSUM`/`.INDEX` sidecars (cli-spec §1.5), compression suffixes and trivial buffers.
 * @module
 */
export * from "./checksum.ts";
export * from "./sha256.ts";
export * from "./sidecar.ts";
export * from "./file-checksum.ts";
export * from "./hash-pool.ts";
export * from "./compression.ts";
export * from "./stat-cache.ts";
export * from "./trivial.ts";
export * from "./stale-sidecar.ts";
