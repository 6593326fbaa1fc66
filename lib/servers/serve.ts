/**
 * Runs a {@link ServiceHandler} on `node:http` (the one place that opens sockets), with the
 * shared server conventions of services-spec §1: port or port range, status file, inactivity
 * timeout, clean SIGINT/SIGTERM stop.
 * @module
 */
import type http from "node:http";
import type net from "node:net";
import { existsSync, openSync, readFileSync, readSync, closeSync } from "node:fs";
import { SeamlessError, UsageError } from "../errors.ts";
import { writeFileAtomic } from "../disk/atomic-write.ts";
import { http as loadHttp, net as loadNet } from "../disk/lazy-node.ts";
import { answerError, logInternalError, withErrorHandling, type ServiceHandler } from "./http.ts";
import { HttpBody, HttpStatus } from "../wire/http-status.ts";
import { StreamingHasher } from "../checksum/sha256.ts";
import type { Log } from "../log.ts";

/** Port choice: a fixed port, or a random free port in an inclusive range. */
export type PortChoice = { port: number } | { range: [number, number] };

/** Options of {@link serveService}. */
export interface ServeOptions {
  host: string;
  port: PortChoice;
  statusFile?: string;
  /** Stop after this many seconds without a request. */
  timeoutSeconds?: number;
  /** While this returns true (work runs or waits) the inactivity timeout does not count. */
  isBusy?: () => boolean;
  /** The server's voice (errors, the idle stop). */
  log: Log;
  /** Stops the server when aborted (the CLI aborts it on SIGINT/SIGTERM/SIGHUP; lib/ installs no signal handler). */
  signal?: AbortSignal;
  /**
   * A request body that sends nothing for this long while it is read is cut (its connection
   * closed); default {@link BODY_IDLE_TIMEOUT_MS}. Only the reading of a body is timed: a
   * handler that computes for an hour before answering is not.
   */
  bodyIdleTimeoutMs?: number;
}

/** How long a request body may stay silent while it is read (a stalled or slowloris client). */
export const BODY_IDLE_TIMEOUT_MS = 30_000;

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
}

/**
 * The request's body, cut when no bytes arrive for `idleMs` while it is being read: the socket is
 * destroyed, so the handler's read fails as for a client that went away and nothing it was
 * writing is committed.
 */
async function* bodyWithIdleTimeout(req: http.IncomingMessage, idleMs: number): AsyncGenerator<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => req.destroy(new Error(`request body silent for ${idleMs / 1000} s`)), idleMs);
  };
  arm();
  try {
    for await (const chunk of req) {
      arm();
      yield chunk as Uint8Array;
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** A running server. */
export interface RunningServer {
  port: number;
  /** Resolves when the server has stopped (idle timeout or signal). */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

const STATUS_FILE_WAIT_MS = 20_000;

/** Validates `--port-range A B` as the Python servers do. */
export function validatePortRange(start: number, end: number): void {
  if (![start, end].every((n) => Number.isInteger(n) && n >= 0 && n <= 65535)) {
    throw new UsageError("--port-range values must be between 0 and 65535");
  }
  if (start > end) throw new UsageError("--port-range START must be less than or equal to END");
}

async function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = loadNet().createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

async function pickPort(host: string, [start, end]: [number, number]): Promise<number> {
  const candidates = Array.from({ length: end - start + 1 }, (_, i) => start + i);
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  for (const port of candidates) if (await canBind(host, port)) return port;
  throw new SeamlessError(`No free port available in range ${start}-${end}`);
}

/** Waits up to 20 s for the status file to exist and hold a JSON object (services-spec §1.1). */
export async function readStatusFileBase(path: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + STATUS_FILE_WAIT_MS;
  for (;;) {
    if (existsSync(path)) {
      try {
        const value = JSON.parse(readFileSync(path, "utf8"));
        if (value && typeof value === "object" && !Array.isArray(value)) return value;
      } catch {}
    }
    if (Date.now() > deadline) {
      throw new SeamlessError(`Status file "${path}" did not appear as a JSON object within 20 s`);
    }
    await Bun.sleep(100);
  }
}

/** Python `json.dump` layout: `", "` and `": "` separators. */
export function pythonJsonDumps(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJsonDumps(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function writeStatus(path: string, payload: Record<string, unknown>): void {
  // Launcher JSON files are private (services-spec §8: mode 0600).
  writeFileAtomic(path, `${pythonJsonDumps(payload)}\n`, 0o600);
}

/**
 * Reports a startup failure that happened before {@link serveService} ran (a refused file, a
 * held lock): the status file says `failed`, so a launcher stops waiting (services-spec §1.5;
 * the Python database leaves it untouched, a QUIRK).
 */
export async function reportStartupFailure(statusFile: string): Promise<void> {
  const base = await readStatusFileBase(statusFile);
  writeStatus(statusFile, { ...base, status: "failed" });
}

/**
 * How many connections to accept at most: each can hold a socket and two files (a temp file and
 * a buffer), and some descriptors are the server's own. From the soft limit in `/proc/self/limits`.
 */
function maxConnectionsForDescriptorLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    if (Number.isFinite(soft) && soft > 0) return Math.max(4, soft - 64);
  } catch {}
  return 4096;
}

/**
 * Starts the service and writes the status file. It stops on the idle timeout, on `stop()` and
 * when `options.signal` is aborted.
 *
 * @throws {SeamlessError} when no port can be bound; the status file then says `failed`
 */
export async function serveService(service: ServiceHandler, options: ServeOptions): Promise<RunningServer> {
  // The one error path: whatever a service throws becomes an answer in servers/http.ts.
  const handler = withErrorHandling(service, options.log);
  const base = options.statusFile ? await readStatusFileBase(options.statusFile) : null;
  let lastRequestMs = Date.now();
  // The idle clock runs only while no request is open: a slow PUT or a long GET is activity.
  let openRequests = 0;
  const server = loadHttp().createServer((req, res) => {
    lastRequestMs = Date.now();
    openRequests++;
    const disconnected = new AbortController();
    res.once("close", () => {
      openRequests--;
      lastRequestMs = Date.now();
      if (!res.writableFinished) disconnected.abort();
    });
    const request = {
      method: req.method ?? "GET",
      path: (req.url ?? "/").split("?")[0]!,
      query: (req.url ?? "").split("?")[1] ?? "",
      headers: req.headers as Record<string, string | undefined>,
      // A request without a body (most GETs) is not wrapped: nothing to time.
      body: hasBody(req) ? bodyWithIdleTimeout(req, options.bodyIdleTimeoutMs ?? BODY_IDLE_TIMEOUT_MS) : (req as AsyncIterable<Uint8Array>),
      signal: disconnected.signal,
    };
    // Every failure is an answer or a closed connection, never silence (e.g. EMFILE while a
    // file body is opened): the same error path as a failing handler, or, once the head of the
    // answer is out, a logged cut.
    const fail = (error: unknown) => {
      if (res.headersSent) {
        logInternalError(error, request, options.log);
        res.destroy();
        return;
      }
      // Headers the failed answer had set (its content-length above all) must not describe this one.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      sendResponse(res, answerError(error, request, options.log), options.log).catch(() => res.destroy());
    };
    handler(request).then((response) => sendResponse(res, response, options.log).catch(fail), fail);
  });
  // Connections beyond what the descriptor limit can serve are closed at once, not left unanswered.
  server.maxConnections = maxConnectionsForDescriptorLimit();
  server.keepAliveTimeout = 30_000;
  // A WebSocket request goes to the same handler; a streamed answer is sent as binary messages.
  server.on("upgrade", (req, socket: net.Socket) => {
    lastRequestMs = Date.now();
    const closed = new AbortController();
    socket.once("close", () => closed.abort());
    socket.on("error", () => socket.destroy());
    const request = {
      method: req.method ?? "GET",
      path: (req.url ?? "/").split("?")[0]!,
      query: (req.url ?? "").split("?")[1] ?? "",
      headers: req.headers as Record<string, string | undefined>,
      body: (async function* () {})(),
      signal: closed.signal,
    };
    void sendWebSocket(request, handler, socket, options.log);
  });
  let port: number;
  try {
    port = "port" in options.port ? options.port.port : await pickPort(options.host, options.port.range);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, options.host, () => resolve());
    });
    port = (server.address() as net.AddressInfo).port;
  } catch (error) {
    if (base && options.statusFile) writeStatus(options.statusFile, { ...base, status: "failed" });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new SeamlessError(`Cannot listen on ${options.host}:${port!}: port already in use`);
    throw error;
  }
  if (base && options.statusFile) writeStatus(options.statusFile, { ...base, port, status: "running" });

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let stopping = false;
  const stop = async () => {
    if (stopping) return stopped;
    stopping = true;
    clearInterval(idleTimer);
    server.close(() => resolveStopped());
    server.closeAllConnections?.();
    return stopped;
  };
  const idleTimer = setInterval(() => {
    if (options.isBusy?.()) lastRequestMs = Date.now();
    if (options.timeoutSeconds && openRequests === 0 && Date.now() - lastRequestMs >= options.timeoutSeconds * 1000) {
      options.log.message(0, `No request for ${options.timeoutSeconds} s, stopping`);
      void stop();
    }
  }, 1000);
  if (options.signal?.aborted) void stop();
  else options.signal?.addEventListener("abort", () => void stop(), { once: true });
  return { port, stopped, stop };
}

async function sendWebSocket(request: import("./http.ts").ServiceRequest, handler: ServiceHandler, socket: net.Socket, log: Log): Promise<void> {
  const { webSocketCloseFrame, webSocketFrame, webSocketHandshake } = await import("./_websocket.ts");
  try {
    const key = request.headers["sec-websocket-key"];
    const response = await handler(request);
    const body = response.body;
    if (!key || response.status !== HttpStatus.ok || !body || typeof body === "string" || body instanceof Uint8Array || !("stream" in body)) {
      const text = typeof body === "string" || body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(HttpBody.webSocketNotOffered);
      socket.end(`HTTP/1.1 ${key ? response.status : HttpStatus.badRequest} -\r\ncontent-length: ${text.byteLength}\r\nconnection: close\r\n\r\n${text}`);
      return;
    }
    socket.write(webSocketHandshake(key));
    for await (const chunk of body.stream) {
      if (socket.destroyed) return;
      if (!socket.write(webSocketFrame(chunk))) await new Promise((resolve) => (socket.once("drain", resolve), socket.once("close", resolve)));
    }
    socket.end(webSocketCloseFrame());
  } catch (error) {
    log.error(`WebSocket error on ${request.path}: ${(error as Error)?.message ?? error}`);
    socket.destroy();
  }
}

const SEND_CHUNK_BYTES = 4 * 1024 * 1024;

async function sendResponse(res: http.ServerResponse, response: import("./http.ts").ServiceResponse, log: Log): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
  const body = response.body;
  if (body === undefined || typeof body === "string" || body instanceof Uint8Array) {
    res.end(body ?? "");
    return;
  }
  if ("stream" in body) {
    for await (const chunk of body.stream) {
      if (res.destroyed) break;
      if (!res.write(chunk)) await new Promise((resolve) => (res.once("drain", resolve), res.once("close", resolve)));
    }
    res.end();
    return;
  }
  res.setHeader("content-length", String(body.size));
  const hasher = body.verifyWhileSending ? new StreamingHasher() : null;
  const send = async (chunk: Uint8Array) => {
    if (res.write(chunk)) return;
    await new Promise((resolve) => {
      res.once("drain", resolve);
      res.once("close", resolve);
    });
  };
  const fd = openSync(body.filePath, "r");
  try {
    // With verification, each chunk is held back until the next one is read: the last one
    // goes out only once the whole file has matched.
    let held: Uint8Array | null = null;
    for (;;) {
      const chunk = Buffer.allocUnsafe(SEND_CHUNK_BYTES);
      const n = readSync(fd, chunk, 0, SEND_CHUNK_BYTES, null);
      if (n <= 0) break;
      const data = n === SEND_CHUNK_BYTES ? chunk : chunk.subarray(0, n);
      if (!hasher) {
        await send(data);
      } else {
        hasher.update(data);
        if (held) await send(held);
        held = data;
      }
      if (res.destroyed) return;
    }
    if (hasher && hasher.digest() !== body.verifyWhileSending) {
      log.error(`File corruption: ${body.filePath} does not match its checksum; response cut short`);
      res.destroy();
      return;
    }
    if (held) await send(held);
  } finally {
    closeSync(fd);
  }
  res.end();
}
