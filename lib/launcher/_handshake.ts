/** The launcher's handshake: `GET /healthcheck`, 2xx expected (services-spec §5.2). */
import { httpRequest, normalizeBaseUrl } from "../wire/http-client.ts";
import { HEALTHCHECK_PATH } from "../wire/launcher.ts";
import { isSuccess } from "../wire/http-status.ts";

/** One handshake; false on any failure. */
export async function handshake(url: string, timeoutMs = 10_000): Promise<boolean> {
  try {
    const answer = await httpRequest(normalizeBaseUrl(url), HEALTHCHECK_PATH, { method: "GET", timeoutMs });
    return isSuccess(answer.status);
  } catch {
    return false;
  }
}

/** Up to `tries` handshakes, `delayMs` apart. */
export async function handshakeWithRetries(url: string, tries: number, delayMs: number): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await handshake(url)) return true;
    if (i + 1 < tries) await Bun.sleep(delayMs);
  }
  return false;
}
