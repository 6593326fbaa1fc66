/**
 * A whole-body HTTP/1.1 exchange on a raw `Bun.connect` socket, with keep-alive connections
 * reused per host. Seamless clients send GETs with bodies (services-spec §0.4), which `fetch`
 * refuses, and loading `node:http` costs ~17 ms of a compiled binary's start-up: most of a
 * cache hit answered by a database or hashserver. This client needs neither. Responses with
 * `Content-Length` or chunked bodies are read; request bodies are written with backpressure.
 * @module
 */
import type { Socket } from "bun";

/** One answer, body read whole. */
export interface RawAnswer {
  status: number;
  body: Buffer;
}

/** Options of {@link rawRequest}. */
export interface RawRequestOptions {
  method: string;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

interface Exchange {
  resolve: (answer: RawAnswer) => void;
  reject: (error: Error) => void;
  received: boolean;
}

/** A keep-alive connection that carries one exchange at a time. */
class Connection {
  socket: Socket | null = null;
  exchange: Exchange | null = null;
  closed = false;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: Uint8Array | null = null;
  #headOnly = false;
  #body: { status: number; keepAlive: boolean; length: number; chunks: Uint8Array[]; received: number } | null = null;

  static open(host: string, port: number): Promise<Connection> {
    const connection = new Connection();
    return Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (_socket, chunk) => connection.#onData(chunk),
        drain: (socket) => connection.#flush(socket),
        close: () => connection.#fail(new Error("the connection was cut before the answer was complete")),
        error: (_socket, error) => connection.#fail(error),
      },
    }).then((socket) => {
      connection.socket = socket;
      return connection;
    });
  }

  send(request: Uint8Array, headOnly: boolean, exchange: Exchange): void {
    this.exchange = exchange;
    this.#headOnly = headOnly;
    this.#buffer = Buffer.alloc(0);
    this.#body = null;
    this.#pending = request;
    this.#flush(this.socket!);
  }

  #flush(socket: Socket): void {
    while (this.#pending && this.#pending.byteLength > 0) {
      const written = socket.write(this.#pending);
      if (written <= 0) return;
      this.#pending = written >= this.#pending.byteLength ? null : this.#pending.subarray(written);
    }
    this.#pending = null;
  }

  #fail(error: Error): void {
    this.closed = true;
    const exchange = this.exchange;
    this.exchange = null;
    exchange?.reject(error);
  }

  #onData(chunk: Uint8Array): void {
    if (!this.exchange) return;
    this.exchange.received = true;
    let answer: { status: number; body: Buffer; keepAlive: boolean } | null;
    try {
      answer = this.#collect(chunk);
    } catch (error) {
      this.socket?.end();
      return this.#fail(error as Error);
    }
    if (!answer) return;
    const exchange = this.exchange;
    this.exchange = null;
    if (!answer.keepAlive) {
      this.closed = true;
      this.socket?.end();
    }
    exchange.resolve({ status: answer.status, body: answer.body });
  }

  /**
   * Adds a chunk; returns the answer once complete. A `Content-Length` body is gathered as a
   * list of chunks and joined once (a large buffer must not be copied per chunk).
   */
  #collect(chunk: Uint8Array): { status: number; body: Buffer; keepAlive: boolean } | null {
    if (this.#body) {
      this.#body.chunks.push(chunk);
      this.#body.received += chunk.byteLength;
      if (this.#body.received < this.#body.length) return null;
      const { status, keepAlive, length, chunks } = this.#body;
      this.#body = null;
      return { status, keepAlive, body: Buffer.concat(chunks).subarray(0, length) };
    }
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : Buffer.from(chunk);
    const head = parseHead(this.#buffer, this.#headOnly);
    if (!head) return null;
    if (head.contentLength === undefined) return parseResponse(this.#buffer, this.#headOnly);
    const rest = this.#buffer.subarray(head.bodyStart);
    this.#buffer = Buffer.alloc(0);
    this.#body = { status: head.status, keepAlive: head.keepAlive, length: head.contentLength, chunks: [], received: 0 };
    return this.#collect(rest);
  }
}

/** The status line and headers, once complete; `contentLength` only for a plain sized body. */
function parseHead(data: Buffer, headOnly: boolean): { status: number; keepAlive: boolean; bodyStart: number; contentLength?: number } | null {
  const end = data.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = data.subarray(0, end).toString("latin1");
  const status = Number(head.slice(9, 12));
  if (status === 100 || headOnly || status === 204 || status === 304 || /\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return { status, keepAlive: true, bodyStart: end + 4 };
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (!match) return { status, keepAlive: true, bodyStart: end + 4 };
  return { status, keepAlive: !/\r\nconnection:\s*close/i.test(head), bodyStart: end + 4, contentLength: Number(match[1]) };
}

/** Parses a complete response from `data`, or returns null while it is incomplete. */
function parseResponse(data: Buffer, headOnly: boolean): { status: number; body: Buffer; keepAlive: boolean } | null {
  const end = data.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = data.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(lines[0]!.split(" ")[1]);
  if (!Number.isInteger(status)) throw new Error(`malformed status line "${lines[0]!.slice(0, 80)}"`);
  if (status === 100) return parseResponse(data.subarray(end + 4), headOnly);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const keepAlive = (headers.get("connection") ?? "").toLowerCase() !== "close";
  const rest = data.subarray(end + 4);
  if (headOnly || status === 204 || status === 304) return { status, body: Buffer.alloc(0), keepAlive };
  if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf("\r\n", at);
      if (lineEnd < 0) return null;
      const size = parseInt(rest.subarray(at, lineEnd).toString("latin1"), 16);
      if (Number.isNaN(size)) throw new Error("malformed chunked body");
      if (size === 0) {
        const trailerEnd = rest.indexOf("\r\n\r\n", lineEnd);
        const plainEnd = rest.indexOf("\r\n", lineEnd + 2);
        if (trailerEnd < 0 && plainEnd !== lineEnd + 2) return null;
        return { status, body: Buffer.concat(parts), keepAlive };
      }
      if (rest.length < lineEnd + 2 + size + 2) return null;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const lengthText = headers.get("content-length");
  if (lengthText === undefined) {
    // Body until the connection closes: not used by Seamless servers.
    throw new Error("answer without Content-Length or chunked encoding");
  }
  const length = Number(lengthText);
  if (rest.length < length) return null;
  return { status, body: Buffer.from(rest.subarray(0, length)), keepAlive };
}

const idle = new Map<string, Connection[]>();

function takeIdle(key: string): Connection | null {
  const list = idle.get(key);
  while (list && list.length) {
    const connection = list.pop()!;
    if (!connection.closed) return connection;
  }
  return null;
}

function encodeRequest(host: string, port: number, path: string, options: RawRequestOptions): Uint8Array {
  const body = options.body === undefined ? null : typeof options.body === "string" ? Buffer.from(options.body) : options.body;
  let head = `${options.method} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${body?.byteLength ?? 0}\r\n\r\n`;
  return body && body.byteLength ? Buffer.concat([Buffer.from(head, "latin1"), body]) : Buffer.from(head, "latin1");
}

/**
 * One request, answer read whole. A kept-alive connection that the server closed meanwhile is
 * replaced once, transparently, when nothing of the answer had arrived.
 *
 * @throws the connection error (with its `code`, e.g. `ECONNREFUSED`), a timeout, or a cut answer
 */
export async function rawRequest(host: string, port: number, path: string, options: RawRequestOptions): Promise<RawAnswer> {
  const key = `${host}:${port}`;
  const request = encodeRequest(host, port, path, options);
  for (let attempt = 0; ; attempt++) {
    const reused = attempt === 0 ? takeIdle(key) : null;
    const connection = reused ?? (await Connection.open(host, port));
    connection.socket!.ref();
    const exchange: Exchange = { resolve: () => {}, reject: () => {}, received: false };
    let timedOut = false;
    try {
      const answer = await new Promise<RawAnswer>((resolve, reject) => {
        exchange.resolve = resolve;
        exchange.reject = reject;
        let timer: ReturnType<typeof setTimeout> | undefined;
        if (options.timeoutMs) {
          timer = setTimeout(() => {
            timedOut = true;
            connection.closed = true;
            connection.exchange = null;
            reject(new Error(`timed out after ${options.timeoutMs} ms`));
            connection.socket?.terminate();
          }, options.timeoutMs);
        }
        const settle = <T>(fn: (value: T) => void) => (value: T) => {
          if (timer) clearTimeout(timer);
          fn(value);
        };
        exchange.resolve = settle(resolve);
        exchange.reject = settle(reject);
        connection.send(request, options.method === "HEAD", exchange);
      });
      if (!connection.closed) {
        connection.socket!.unref();
        const list = idle.get(key) ?? [];
        list.push(connection);
        idle.set(key, list);
      }
      return answer;
    } catch (error) {
      connection.closed = true;
      connection.socket?.end();
      if (reused && !exchange.received && !timedOut && attempt === 0) continue;
      throw error;
    }
  }
}
