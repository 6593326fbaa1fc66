/**
 * The result cache: `seamless.db` with the Python seamless-database schema (services-spec §3.4–§3.5), opened safely by concurrent processes.
 * @module
 */
export * from "./result-cache.ts";
export * from "./sqlite.ts";
