/**
 * Delegation (services-spec §7.1): from a configuration to the buffer store, result cache and
 * executor of levels 0–3, launching servers on demand (§5).
 * @module
 */
export * from "./describe-clients.ts";
export * from "./open-buffer-store.ts";
export { launchContextOf } from "./_launch.ts";
export * from "./open-result-cache.ts";
export * from "./open-jobserver.ts";
