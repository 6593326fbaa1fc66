/**
 * Wire codecs, one per protocol, shared by client and server (services-spec §2 hashserver, §3 database), plus the small HTTP clients they ride on.
 * @module
 */
export * from "./hashserver.ts";
export * from "./http-client.ts";
export * from "./raw-get.ts";
export * from "./database.ts";
export * from "./launcher.ts";
export * from "./raw-request.ts";
export * from "./jobserver.ts";
export * from "./transport.ts";
