/**
 * A service handler as a client's transport, in-process: requests go to the handler as
 * {@link ServiceRequest}s and its {@link ServiceResponse}s come back as the answers a socket
 * would deliver, so a test runs client → codec → handler → codec → client without a port
 * (the way `serveDir(new Request(...))` is tested in denoland/std). What a socket adds is
 * kept: the client's signal reaches the handler as the request's signal, a timeout cuts the
 * exchange, and a file that fails verification while it is sent cuts the answer.
 * @module
 */
import { closeSync, openSync, readSync } from "node:fs";
import { StreamingHasher } from "../checksum/sha256.ts";
import type { HttpAnswer, HttpRequestOptions } from "../wire/http-client.ts";
import type { RawGetOutcome } from "../wire/raw-get.ts";
import type { FetchLike, HttpTransport } from "../wire/transport.ts";
import type { ServiceHandler, ServiceRequest, ServiceResponse } from "./http.ts";

const FILE_CHUNK_BYTES = 1024 * 1024;

/** What a client sees when an answer stops short (as `raw-request.ts` says it). */
const CUT_SHORT = "the connection was cut before the answer was complete";

/** The chunks of an answer's body, whatever its kind. */
async function* bodyChunks(body: ServiceResponse["body"]): AsyncGenerator<Uint8Array> {
  if (body === undefined) return;
  if (typeof body === "string") {
    if (body.length > 0) yield Buffer.from(body);
    return;
  }
  if (body instanceof Uint8Array) {
    if (body.byteLength > 0) yield body;
    return;
  }
  if ("stream" in body) {
    yield* body.stream;
    return;
  }
  const hasher = body.verifyWhileSending ? new StreamingHasher() : null;
  const fd = openSync(body.filePath, "r");
  try {
    // As `serve.ts` does: with verification the last chunk goes out only once the file matched.
    let held: Uint8Array | null = null;
    for (;;) {
      const chunk = Buffer.allocUnsafe(FILE_CHUNK_BYTES);
      const n = readSync(fd, chunk, 0, FILE_CHUNK_BYTES, null);
      if (n <= 0) break;
      const data = chunk.subarray(0, n);
      if (!hasher) {
        yield data;
        continue;
      }
      hasher.update(data);
      if (held) yield held;
      held = data;
    }
    if (hasher && hasher.digest() !== body.verifyWhileSending) throw new Error(CUT_SHORT);
    if (held) yield held;
  } finally {
    closeSync(fd);
  }
}

async function readWhole(body: ServiceResponse["body"]): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of bodyChunks(body)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function abortError(): Error {
  return new DOMException("The operation was aborted.", "AbortError");
}

/**
 * Calls the handler with the request's signal wired as a socket would: aborting `signal`, or
 * the timeout passing, aborts the handler's request signal and rejects the exchange.
 */
async function exchange<T>(
  handler: ServiceHandler,
  request: Omit<ServiceRequest, "signal">,
  options: { signal?: AbortSignal; timeoutMs?: number },
  read: (response: ServiceResponse) => Promise<T>,
): Promise<T> {
  const gone = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const cut = new Promise<never>((_, reject) => {
    onAbort = () => {
      gone.abort();
      reject(abortError());
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.timeoutMs) {
      timer = setTimeout(() => {
        gone.abort();
        reject(new Error(`timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    }
  });
  cut.catch(() => {});
  try {
    return await Promise.race([handler({ ...request, signal: gone.signal }).then(read), cut]);
  } finally {
    if (timer) clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
  }
}

function serviceRequest(method: string, target: string, headers: Record<string, string>, body: AsyncIterable<Uint8Array>): Omit<ServiceRequest, "signal"> {
  const question = target.indexOf("?");
  const lowered: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) lowered[name.toLowerCase()] = value;
  return {
    method,
    path: question < 0 ? target : target.slice(0, question),
    query: question < 0 ? "" : target.slice(question + 1),
    headers: lowered,
    body,
  };
}

function wholeBody(body: Uint8Array | string | undefined): { bytes: Uint8Array | undefined; stream: AsyncIterable<Uint8Array> } {
  const bytes = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
  return {
    bytes,
    stream: (async function* () {
      if (bytes && bytes.byteLength > 0) yield bytes;
    })(),
  };
}

/**
 * The handler as an {@link HttpTransport}, for the hashserver, database and jobserver clients.
 *
 * @param handler a service handler, usually wrapped by `withErrorHandling`
 * @returns a transport that answers from the handler, no socket involved
 * @example
 * ```ts
 * const handler = withErrorHandling(createDatabaseHandler({ file, writable: true }), log);
 * const client = new DatabaseClient("http://in-process", { transport: handlerTransport(handler) });
 * assertEquals(await client.protocol(), ["seamless", "database", "2.2"]);
 * ```
 */
export function handlerTransport(handler: ServiceHandler): HttpTransport {
  const send = (path: string, options: HttpRequestOptions, body: AsyncIterable<Uint8Array>, length?: number): Promise<HttpAnswer> => {
    const headers = { ...options.headers, ...(length === undefined ? {} : { "content-length": String(length) }) };
    return exchange(handler, serviceRequest(options.method, path, headers, body), options, async (response) => ({ status: response.status, body: await readWhole(response.body) }));
  };
  return {
    request(path, options) {
      const { bytes, stream } = wholeBody(options.body);
      return send(path, options, stream, bytes?.byteLength ?? 0);
    },
    requestStreaming: (path, options, body) => send(path, options, body),
    streamGet(path, onChunk): Promise<RawGetOutcome> {
      return exchange(handler, serviceRequest("GET", path, {}, wholeBody(undefined).stream), {}, async (response) => {
        if (response.status !== 200) return { kind: "status", status: response.status, body: (await readWhole(response.body)).toString("utf8") };
        let bytes = 0;
        for await (const chunk of bodyChunks(response.body)) {
          bytes += chunk.byteLength;
          onChunk(chunk);
        }
        return { kind: "done", status: response.status, bytes };
      });
    },
  };
}

/**
 * The handler as a `fetch`, for the queue client: the URL's host is ignored, its path and query
 * go to the handler, a streamed answer stays streamed.
 *
 * @param handler a service handler, usually wrapped by `withErrorHandling`
 * @returns a function with the shape of `fetch`
 * @example
 * ```ts
 * const client = new QueueClient({ url: "http://in-process", token }, { fetch: handlerFetch(handler) });
 * assertEquals((await client.submit({ command: "echo one" })).state, "queued");
 * ```
 */
export function handlerFetch(handler: ServiceHandler): FetchLike {
  return (url, init) => {
    const parsed = new URL(url);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const { bytes, stream } = wholeBody(init.body === undefined || init.body === null ? undefined : (init.body as string | Uint8Array));
    if (bytes) headers["content-length"] = String(bytes.byteLength);
    const request = serviceRequest(init.method ?? "GET", parsed.pathname + parsed.search, headers, stream);
    return exchange(handler, request, { signal: init.signal ?? undefined }, async (response) => {
      const chunks = bodyChunks(response.body);
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (init.signal?.aborted) {
            controller.error(abortError());
            await chunks.return(undefined);
            return;
          }
          try {
            const next = await chunks.next();
            if (next.done) controller.close();
            else controller.enqueue(next.value);
          } catch (error) {
            controller.error(error);
          }
        },
        async cancel() {
          await chunks.return(undefined);
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    });
  };
}
