/**
 * Clients of the Seamless services (services-spec §6): the database client (lib/config reads
 * `SEAMLESS_DATABASE` and `SEAMLESS_REMOTE_CLIENTS`, §6.5).
 * @module
 */
export * from "./database.ts";
export * from "./jobserver.ts";
