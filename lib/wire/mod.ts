/**
 * Wire codecs, one per protocol, shared by client and server (services-spec §2), plus the small HTTP clients they ride on.
 * @module
 */
export * from "./hashserver.ts";
export * from "./http-client.ts";
export * from "./raw-get.ts";
export * from "./database.ts";
export * from "./launcher.ts";
export * from "./jobserver.ts";
