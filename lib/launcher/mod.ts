/**
 * Servers launched on demand, as remote-http-launcher does it (services-spec §5.2): the same
 * keys and client/server JSON files under `~/.remote-http-launcher/` (or
 * `REMOTE_HTTP_LAUNCHER_DIR`), handshake on `/healthcheck`, reuse of a running server,
 * relaunch of a stale one, a lock per key, SSH (batch mode, bounded) and tunnels for remote
 * frontends, and a keepalive while a client lives (§6.1).
 * @module
 */
export * from "./ensure-service.ts";
export * from "./keepalive.ts";
export * from "./launch-error.ts";
export * from "./self-command.ts";
export * from "./start-service.ts";
