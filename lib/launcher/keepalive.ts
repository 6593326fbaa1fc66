/**
 * Keeps launched servers (started with `--timeout 600`) alive while this process uses them: a
 * `/healthcheck` every 30 s (services-spec §6.1), on a timer that never holds the process open.
 * @module
 */
import { handshake } from "./_handshake.ts";

const KEEPALIVE_INTERVAL_MS = 30_000;
const kept = new Set<string>();

/**
 * Pings `url` every 30 s for as long as the process lives; once per URL.
 *
 * @param url a launched server
 * @param intervalMs the period (tests shorten it)
 * @returns a function that stops the pings
 */
export function keepAlive(url: string, intervalMs = KEEPALIVE_INTERVAL_MS): () => void {
  if (kept.has(url)) return () => {};
  kept.add(url);
  const timer = setInterval(() => void handshake(url, 10_000), intervalMs);
  (timer as unknown as { unref?: () => void }).unref?.();
  return () => {
    clearInterval(timer);
    kept.delete(url);
  };
}
