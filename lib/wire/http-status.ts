/**
 * The HTTP statuses that belong to no one protocol: the shared error path of every server
 * (`servers/http.ts`: an unexpected error is a 500, running out of file descriptors a 503),
 * the body limit, the WebSocket upgrade, and how a client tells a server-side failure. What a
 * status means on a given protocol lives in that protocol's module (`HashserverStatus`,
 * `DatabaseStatus`, `JobserverStatus`, `QueueStatus`).
 * @module
 */

/** Status codes shared by every service. */
export const HttpStatus = {
  /** The WebSocket handshake's answer. */
  switchingProtocols: 101,
  ok: 200,
  badRequest: 400,
  /** A request body over the limit the handler gave. */
  payloadTooLarge: 413,
  /** An error the handler did not expect (logged by the server). */
  internalServerError: 500,
  /** The server is out of a resource (file descriptors): try again. */
  serviceUnavailable: 503,
} as const;

/** Fixed bodies of the shared error path. */
export const HttpBody = {
  internalServerError: "Internal Server Error",
  outOfDescriptors: "Service Unavailable: out of file descriptors",
  webSocketNotOffered: "WebSocket not offered here",
} as const;

/**
 * Whether an answer is a success (2xx), e.g. the launcher's handshake (services-spec §5.2).
 *
 * @param status an HTTP status
 * @returns true for 200–299
 */
export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * Whether an answer is a failure of the server rather than of the request (5xx): a client may
 * retry it (services-spec §6.1).
 *
 * @param status an HTTP status
 * @returns true from 500 on
 * @example
 * ```ts
 * assertEquals(isServerError(HttpStatus.serviceUnavailable), true);
 * assertEquals(isServerError(404), false);
 * ```
 */
export function isServerError(status: number): boolean {
  return status >= 500;
}
