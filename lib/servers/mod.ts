/**
 * Services as plain request handlers (services-spec §1–§3): the hashserver, the database, and `serveService` for ports, status files, idle timeout and signals.
 * @module
 */
export * from "./http.ts";
export * from "./hashserver.ts";
export * from "./serve.ts";
export * from "./database.ts";
export * from "./jobserver.ts";
export * from "./jobserver-backends.ts";
export * from "./in-process.ts";
