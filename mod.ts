/**
 * The `seamless` library API: checksums, serialization, sidecars, buffer stores, the hashserver
 * protocol and service, bash transformations, local execution, the result cache, configuration, launching and
 * delegation.
 * @module
 */
export * from "./lib/errors.ts";
export * from "./lib/log.ts";
export * from "./lib/disk/mod.ts";
export * from "./lib/checksum/mod.ts";
export * from "./lib/serialize/mod.ts";
export * from "./lib/buffers/mod.ts";
export * from "./lib/upload/mod.ts";
export * from "./lib/wire/mod.ts";
export * from "./lib/servers/mod.ts";
export * from "./lib/bash/mod.ts";
export * from "./lib/transformation/mod.ts";
export * from "./lib/execute/mod.ts";
export * from "./lib/process/mod.ts";
export * from "./lib/cache/mod.ts";
export * from "./lib/clients/mod.ts";
export * from "./lib/config/mod.ts";
export * from "./lib/launcher/mod.ts";
export * from "./lib/delegation/mod.ts";
export * from "./lib/concurrency/mod.ts";
export * from "./lib/units/mod.ts";
export * from "./lib/queue/mod.ts";
export * from "./lib/runlog/mod.ts";
export * from "./lib/gc/mod.ts";
export * from "./lib/record/mod.ts";
