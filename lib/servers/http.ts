/**
 * The service handler contract. WHATWG `Request` cannot carry a body on GET, and Seamless
 * protocols need exactly that (services-spec §0.4), so services take this small request type
 * instead; tests build one with {@link makeServiceRequest}, no socket needed.
 * @module
 */
import { SeamlessError } from "../errors.ts";
import type { Log } from "../log.ts";
import { HttpBody, HttpStatus } from "../wire/http-status.ts";

/** An incoming request. */
export interface ServiceRequest {
  method: string;
  /** Path without the query string, e.g. `/has`. */
  path: string;
  /** The query string without `?` (empty when there is none). */
  query?: string;
  headers: Record<string, string | undefined>;
  /** The body as a stream of chunks; read it at most once. */
  body: AsyncIterable<Uint8Array>;
  /** Aborted when the client goes away before the answer is sent. */
  signal?: AbortSignal;
}

/** A file to send: already verified, or verified while it is sent. */
export interface FileBody {
  filePath: string;
  size: number;
  /**
   * Hash the bytes as they are sent; if they do not match, the connection is cut before the
   * last chunk, so a client never receives a complete response with wrong bytes.
   */
  verifyWhileSending?: string;
}

/** A body produced while it is sent (chunked), e.g. a followed log. */
export interface StreamBody {
  stream: AsyncIterable<Uint8Array>;
}

/** An answer. */
export interface ServiceResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array | FileBody | StreamBody;
}

export type ServiceHandler = (request: ServiceRequest) => Promise<ServiceResponse>;

/** An error that is an HTTP answer (hono's HTTPException). */
export class HttpError extends SeamlessError {
  constructor(readonly status: number, readonly responseBody: string, readonly contentType = "text/plain; charset=utf-8") {
    super(`HTTP ${status}: ${responseBody}`);
  }
}

/** A request body over the limit given to {@link readBody}. */
export class BodyTooLargeError extends HttpError {
  constructor(readonly maxBytes: number) {
    super(HttpStatus.payloadTooLarge, `Request body larger than ${maxBytes} bytes`);
  }
}

/**
 * Reads a request body whole.
 *
 * @param maxBytes refuse a larger body: by its Content-Length at once, else counted while it streams
 * @throws {BodyTooLargeError} when the body is over `maxBytes`
 */
export async function readBody(request: ServiceRequest, maxBytes = Number.POSITIVE_INFINITY): Promise<Uint8Array> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > maxBytes) throw new BodyTooLargeError(maxBytes);
  const stream = request.body as AsyncIterable<Uint8Array> & Partial<EventStreamLike>;
  if (typeof stream.on === "function") return readEvents(stream as EventStreamLike, maxBytes);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new BodyTooLargeError(maxBytes);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** A Node readable stream, as `node:http` hands request bodies over. */
interface EventStreamLike {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "error" | "close", listener: (error?: Error) => void): unknown;
  removeAllListeners(event: string): unknown;
}

/** Reads a Node stream by its events: ~15% more small requests per second than `for await` here. */
function readEvents(stream: EventStreamLike, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    stream.on("data", (chunk) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        stream.removeAllListeners("data");
        reject(new BodyTooLargeError(maxBytes));
      } else chunks.push(chunk);
    });
    stream.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    stream.on("error", (error) => reject(error));
    stream.on("close", () => reject(new Error("request closed before its body was complete")));
  });
}

/** Builds a request for tests and in-process calls. */
export function makeServiceRequest(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}): ServiceRequest {
  const bytes = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
  return {
    method,
    path,
    headers,
    body: (async function* () {
      if (bytes && bytes.byteLength > 0) yield bytes;
    })(),
  };
}

/**
 * The one error path of every server (hono's `errorHandler`): a thrown {@link HttpError} is its
 * own answer and is not logged; anything else is unexpected, logged once here, and answered 500,
 * or 503 with `retry-after` when the process is out of file descriptors (the client may retry).
 * Handlers throw; they never format an unexpected error themselves.
 *
 * @param error what the handler (or the sending of its answer) threw
 * @param request the request being answered, named in the log line
 * @param log where the server's log lines go
 * @returns the answer to send
 * @example
 * ```ts
 * const { log, lines: logged } = createMemoryLog();
 * const answer = answerError(new Error("boom"), makeServiceRequest("GET", "/x"), log);
 * // answer.status === 500, answer.body === "Internal Server Error", logged.length === 1
 * ```
 */
export function answerError(error: unknown, request: Pick<ServiceRequest, "method" | "path">, log: Log): ServiceResponse {
  if (error instanceof HttpError) {
    return { status: error.status, headers: { "content-type": error.contentType }, body: error.responseBody };
  }
  logInternalError(error, request, log);
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === "EMFILE" || code === "ENFILE") {
    return { status: HttpStatus.serviceUnavailable, headers: { ...TEXT_TYPE, "retry-after": "1" }, body: HttpBody.outOfDescriptors };
  }
  return { status: HttpStatus.internalServerError, headers: TEXT_TYPE, body: HttpBody.internalServerError };
}

const TEXT_TYPE = { "content-type": "text/plain; charset=utf-8" };

/** The one log line of an unexpected error; also for a failure after the answer's head was sent. */
export function logInternalError(error: unknown, request: Pick<ServiceRequest, "method" | "path">, log: Log): void {
  log.error(`Internal error on ${request.method} ${request.path}: ${(error as Error)?.stack ?? error}`);
}

/**
 * Wraps a handler so that whatever it throws goes through {@link answerError}. `serveService`
 * wraps every service with it; in-process callers and tests wrap a handler themselves.
 */
export function withErrorHandling(handler: ServiceHandler, log: Log): ServiceHandler {
  return async (request) => {
    try {
      return await handler(request);
    } catch (error) {
      return answerError(error, request, log);
    }
  };
}
