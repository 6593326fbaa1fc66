/**
 * The result cache (services-spec §3.3–§3.5, §6.3): the {@link ResultCache} interface; the
 * embedded `seamless.db` with the Python seamless-database schema, opened safely by concurrent
 * processes; the {@link DatabaseFile} rules shared with the database server; and fan-out over
 * several caches (lib/delegation chooses among them from the configuration).
 * @module
 */
export * from "./store.ts";
export * from "./result-cache.ts";
export * from "./database-file.ts";
export * from "./fan-out.ts";
export * from "./writer-lock.ts";
