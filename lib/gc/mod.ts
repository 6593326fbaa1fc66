/**
 * Keeping the cache healthy (issue 23 §3): `seamless stats`, `gc` and `forget`, on the local
 * cache directory: buffers in prefix layout (services-spec §2.5, §7.3) and results in
 * `seamless.db` (the Python schema, §3.5), where a removed result takes its reverse rows and
 * execution record (§3.4) with it. Leases let long-lived work hold buffers against gc.
 * @module
 */
export * from "./inventory.ts";
export * from "./lease.ts";
export * from "./plan.ts";
export * from "./collect.ts";
export * from "./forget.ts";
export * from "./stats.ts";
