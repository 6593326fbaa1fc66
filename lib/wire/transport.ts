/**
 * How a client reaches its server. The clients of the hashserver, database and jobserver talk
 * through an {@link HttpTransport}: in production {@link socketTransport} (a raw keep-alive
 * socket, or `node:http` for cancelable and streamed requests); in tests a transport that
 * calls the server's handler in-process (`servers/in-process.ts`), so that a test runs
 * client → codec → handler → codec → client without a socket. The queue client speaks plain
 * HTTP without GET bodies and takes a {@link FetchLike} instead.
 * @module
 */
import { httpRequest, openHttpRequest, readAnswer, type HttpAnswer, type HttpRequestOptions } from "./http-client.ts";
import { streamGet, type RawGetOutcome } from "./raw-get.ts";

/** One server as a client sees it: paths are relative to the server's base URL. */
export interface HttpTransport {
  /** One exchange, answer read whole. */
  request(path: string, options: HttpRequestOptions): Promise<HttpAnswer>;
  /** One exchange whose request body is streamed (a file upload), answer read whole. */
  requestStreaming(path: string, options: HttpRequestOptions, body: AsyncIterable<Uint8Array>): Promise<HttpAnswer>;
  /**
   * A GET whose 200 body is handed to `onChunk` as it arrives (a download to a file); any other
   * status is answered with its body, and `unsupported` sends the caller to {@link request}.
   */
  streamGet(path: string, onChunk: (chunk: Uint8Array) => void): Promise<RawGetOutcome>;
}

/** The part of `fetch` the queue client uses. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * The production transport to the server at `base`: the raw-socket client for whole-body
 * exchanges, `node:http` for streamed uploads and cancelable requests, the raw streaming GET
 * for downloads.
 *
 * @param base the server's URL, as {@link normalizeBaseUrl} gives it
 * @returns a transport whose paths are appended to `base`'s path
 * @example
 * ```ts
 * const transport = socketTransport(normalizeBaseUrl("http://127.0.0.1:5577"));
 * const answer = await transport.request("/healthcheck", { method: "GET", timeoutMs: 10_000 });
 * assertEquals(answer.status, 200);
 * ```
 */
export function socketTransport(base: URL): HttpTransport {
  const host = base.hostname;
  const port = Number(base.port || 80);
  const prefix = base.pathname.replace(/\/$/, "");
  return {
    request: (path, options) => httpRequest(base, path, options),
    requestStreaming: async (path, options, body) => readAnswer(await openHttpRequest(base, path, options, body)),
    streamGet: (path, onChunk) => streamGet(host, port, prefix + path, onChunk),
  };
}
