/**
 * A minimal HTTP client on `node:http`, because Seamless protocols send GET requests with
 * bodies, which WHATWG `fetch` refuses (services-spec §0.4). Retries follow services-spec
 * §6.1: up to 5 attempts, no delay, on connection errors, timeouts and non-404 HTTP errors.
 * @module
 */
import type { Agent, IncomingMessage } from "node:http";
import { http } from "../disk/lazy-node.ts";
import { RemoteError } from "../errors.ts";
import { isServerError } from "./http-status.ts";
import { rawRequest } from "./raw-request.ts";


let sharedAgent: Agent | null = null;
function agent(): Agent {
  sharedAgent ??= new (http().Agent)({ keepAlive: true, maxSockets: 16 });
  return sharedAgent;
}

/** One HTTP exchange's answer, body read whole. */
export interface HttpAnswer {
  status: number;
  body: Buffer;
}

/** Options of {@link httpRequest}. */
export interface HttpRequestOptions {
  method: "GET" | "PUT" | "POST";
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Aborting it cuts the request (the caller then sees an AbortError). */
  signal?: AbortSignal;
}

/** Turns `localhost` into `127.0.0.1` (services-spec §10 item 9). */
export function normalizeBaseUrl(url: string): URL {
  const parsed = new URL(url.replace(/\/+$/, ""));
  if (parsed.hostname === "localhost") parsed.hostname = "127.0.0.1";
  return parsed;
}

/** Starts a request and resolves with the response stream (for streaming downloads). */
export function openHttpRequest(base: URL, path: string, options: HttpRequestOptions, bodyStream?: AsyncIterable<Uint8Array>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
    const request = http().request(
      { host: base.hostname, port: base.port || 80, path: base.pathname.replace(/\/$/, "") + path, method: options.method, headers, agent: agent(), signal: options.signal },
      resolve,
    );
    request.on("error", reject);
    if (options.timeoutMs) {
      request.setTimeout(options.timeoutMs, () => request.destroy(new Error(`timed out after ${options.timeoutMs} ms`)));
    }
    if (bodyStream) {
      (async () => {
        try {
          for await (const chunk of bodyStream) {
            if (!request.write(chunk)) await new Promise((r) => request.once("drain", r));
          }
          request.end();
        } catch (error) {
          request.destroy(error as Error);
        }
      })();
    } else {
      request.end(options.body);
    }
  });
}

/** Reads a response body whole. */
export async function readAnswer(response: IncomingMessage): Promise<HttpAnswer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return { status: response.statusCode ?? 0, body: Buffer.concat(chunks) };
}

/**
 * One request, body read whole, no retry. Plain `http:` goes over a raw keep-alive socket
 * ({@link rawRequest}), which spares a short-lived command the load of `node:http`; a request
 * that can be canceled (a jobserver's, waiting for as long as the job runs) goes through
 * `node:http`, which ends the connection when its signal is aborted.
 */
export async function httpRequest(base: URL, path: string, options: HttpRequestOptions): Promise<HttpAnswer> {
  if (base.protocol === "http:" && !options.signal) return rawRequest(base.hostname, Number(base.port || 80), base.pathname.replace(/\/$/, "") + path, options);
  return readAnswer(await openHttpRequest(base, path, options));
}

/** True for errors worth another attempt: network failures, timeouts, 5xx. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof RemoteError) return error.status === undefined || isServerError(error.status);
  return true;
}

/**
 * Runs `operation` up to `attempts` times while it fails with a retryable error.
 *
 * @param operation the work; throw RemoteError with a status for HTTP errors
 * @param attempts maximum attempts (services-spec §6.1: 5)
 */
export async function withRetries<T>(operation: () => Promise<T>, attempts = 5): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await operation();
    } catch (error) {
      lastError = error;
      if (!isRetryable(error)) break;
    }
  }
  throw lastError;
}

/** Describes a low-level network error in a few words. */
export function describeNetworkError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND") return "host not found";
  if (code === "ECONNRESET") return "connection reset";
  if ((error as Error)?.message === "aborted") return "the connection was cut before the answer was complete";
  return (error as Error)?.message ?? String(error);
}
