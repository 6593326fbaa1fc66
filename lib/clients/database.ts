/**
 * The seamless-database client (services-spec §6.3) as a {@link ResultCache}: GETs with JSON
 * bodies on `node:http`, at most `SEAMLESS_DATABASE_MAX_INFLIGHT` GETs in flight, a health
 * check before first use, and up to 5 attempts without delay on connection errors, timeouts
 * and 5xx answers (services-spec §6.1). A 404 means absent; a 409 means a refused write.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { Semaphore } from "../concurrency/semaphore.ts";
import { RemoteError, SeamlessError } from "../errors.ts";
import type { IrreproducibleEntry, ResultCache } from "../cache/store.ts";
import {
  DatabasePath, DatabaseRequests, DatabaseStatus, decodeBucketProbeAnswer, decodeChecksumAnswer, decodeChecksumListAnswer, decodeHashTypeAnswer, decodeJsonAnswer,
  decodeRevExpressionsAnswer, encodeDatabaseRequest, isValidHashTypeWord, type BucketProbe, type DatabaseRequest, type ExpressionEntry, type ExpressionKey,
} from "../wire/database.ts";
import { describeNetworkError, isRetryable, normalizeBaseUrl, type HttpAnswer } from "../wire/http-client.ts";
import { socketTransport, type HttpTransport } from "../wire/transport.ts";
import { HttpStatus, isServerError } from "../wire/http-status.ts";

/** Options of {@link DatabaseClient}. */
export interface DatabaseClientOptions {
  /** A read-only client refuses writes before sending them. */
  readonly?: boolean;
  /** Concurrent GETs; 0 or less means unlimited (default 30). */
  maxInflight?: number;
  /** Attempts per operation (services-spec §6.1: 5). */
  attempts?: number;
  /** Per-request timeout (services-spec §6.1: 10 s). */
  timeoutMs?: number;
  /** How requests reach the server; default sockets to the URL. Tests pass the server handler itself (`servers/in-process.ts`). */
  transport?: HttpTransport;
  /** The caller has just checked `/healthcheck` (the launcher handshake), so the first request skips it. */
  healthy?: boolean;
}

/** The default of `SEAMLESS_DATABASE_MAX_INFLIGHT`. */
export const DEFAULT_MAX_INFLIGHT = 30;

/** Reads `SEAMLESS_DATABASE_MAX_INFLIGHT` as Python does: garbage gives 30, 0 or less unlimited. */
export function parseMaxInflight(text: string | undefined): number {
  if (text === undefined || text.trim() === "") return DEFAULT_MAX_INFLIGHT;
  const n = Number(text.trim());
  return Number.isInteger(n) ? n : DEFAULT_MAX_INFLIGHT;
}

const JSON_HEADERS = { "content-type": "application/json" };

/** A remote `seamless database`. */
export class DatabaseClient implements ResultCache {
  readonly location: string;
  readonly #readonly: boolean;
  readonly #throttle: Semaphore | null;
  readonly #attempts: number;
  readonly #timeoutMs: number;
  /** One exchange: method, path, body → status and body, over the transport given (or sockets). */
  readonly #transport: (method: "GET" | "PUT", path: string, body: string | undefined, timeoutMs: number) => Promise<HttpAnswer>;
  #healthy = false;

  constructor(url: string, options: DatabaseClientOptions = {}) {
    this.location = url.replace(/\/+$/, "");
    this.#readonly = options.readonly ?? false;
    const inflight = options.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    this.#throttle = inflight > 0 ? new Semaphore(inflight) : null;
    this.#attempts = options.attempts ?? 5;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#healthy = options.healthy ?? false;
    const transport = options.transport ?? socketTransport(normalizeBaseUrl(url));
    this.#transport = (method, path, body, timeoutMs) => transport.request(path, { method, body, headers: body === undefined ? undefined : JSON_HEADERS, timeoutMs });
  }

  /**
   * One attempt: the request, with the health check beside it when one is due (it costs no
   * round trip of its own; its failure is the one reported); network failures are retryable.
   */
  async #attempt(method: "GET" | "PUT", path: string, body: string | undefined): Promise<HttpAnswer> {
    try {
      const health = this.#healthy ? null : this.#transport("GET", DatabasePath.healthcheck, undefined, this.#timeoutMs);
      const exchange = this.#transport(method, path, body, this.#timeoutMs);
      if (health) {
        exchange.catch(() => {});
        const answer = await health;
        if (answer.status !== DatabaseStatus.ok) throw new RemoteError(`health check answered ${answer.status}`, this.location, HttpStatus.serviceUnavailable);
        this.#healthy = true;
      }
      const answer = await exchange;
      if (isServerError(answer.status)) throw new RemoteError(`answered ${answer.status} (${answer.body.toString("utf8").slice(0, 200)})`, this.location, answer.status);
      return answer;
    } catch (error) {
      this.#healthy = false;
      if (error instanceof RemoteError) throw error;
      throw new RemoteError(describeNetworkError(error), this.location, undefined, { cause: error });
    }
  }

  /** One operation with retries; the final failure is one line naming the server and the attempts. */
  async #exchange(what: string, method: "GET" | "PUT", request: DatabaseRequest): Promise<HttpAnswer> {
    const body = encodeDatabaseRequest(request);
    const run = async () => {
      let last: unknown;
      for (let attempt = 1; attempt <= this.#attempts; attempt++) {
        try {
          return await this.#attempt(method, DatabasePath.request, body);
        } catch (error) {
          last = error;
          if (!isRetryable(error)) break;
        }
      }
      const detail = (last as Error).message;
      throw new RemoteError(`${what}: database server ${this.location}: ${detail} (${this.#attempts} attempts)`, this.location, (last as RemoteError).status, { cause: last });
    };
    return method === "GET" && this.#throttle ? this.#throttle.run(run) : run();
  }

  #unexpected(what: string, answer: HttpAnswer): RemoteError {
    const detail = answer.body.toString("utf8").slice(0, 200);
    return new RemoteError(`${what}: database server ${this.location} answered ${answer.status}${detail ? ` (${detail})` : ""}`, this.location, answer.status);
  }

  /** A GET whose 404 means absent. */
  async #get<T>(what: string, request: DatabaseRequest, decode: (text: string) => T): Promise<T | null> {
    const answer = await this.#exchange(what, "GET", request);
    if (answer.status === DatabaseStatus.notFound) return null;
    if (answer.status !== DatabaseStatus.ok) throw this.#unexpected(what, answer);
    try {
      return decode(answer.body.toString("utf8"));
    } catch (error) {
      throw new RemoteError(`${what}: database server ${this.location} sent a malformed answer: ${(error as Error).message}`, this.location, answer.status);
    }
  }

  /** A PUT: true when stored, false when refused as a conflict (the given statuses). */
  async #put(what: string, request: DatabaseRequest, refusedStatuses: number[] = []): Promise<boolean> {
    if (this.#readonly) throw new SeamlessError(`${what}: database client ${this.location} is read-only`);
    const answer = await this.#exchange(what, "PUT", request);
    if (answer.status === DatabaseStatus.ok) return true;
    if (refusedStatuses.includes(answer.status)) return false;
    throw this.#unexpected(what, answer);
  }

  /**
   * Sends `GET /healthcheck` every `intervalMs` (services-spec §6.1: 30 s), ignoring errors, so
   * a server started with `--timeout` stays up while a long-lived client (a jobserver) lives.
   * The timer does not keep the process alive.
   *
   * @returns a function that stops the keepalive
   */
  startKeepalive(intervalMs = 30_000): () => void {
    const timer = setInterval(() => {
      this.#transport("GET", DatabasePath.healthcheck, undefined, this.#timeoutMs).catch(() => {});
    }, intervalMs);
    timer.unref?.();
    return () => clearInterval(timer);
  }

  /** The `protocol` answer, e.g. `["seamless", "database", "2.2"]`. */
  async protocol(): Promise<unknown> {
    return this.#get("Cannot ask the protocol", DatabaseRequests.protocol(), decodeJsonAnswer);
  }

  getResult(tf: Checksum): Promise<Checksum | null> {
    return this.#get(`Cannot look up transformation "${tf}"`, DatabaseRequests.getTransformation(tf), decodeChecksumAnswer);
  }

  async setResult(tf: Checksum, result: Checksum): Promise<void> {
    await this.#put(`Cannot record the result of transformation "${tf}"`, DatabaseRequests.setTransformation(tf, result));
  }

  async getTransformationsOf(result: Checksum): Promise<Checksum[]> {
    return (await this.#get(`Cannot look up transformations of "${result}"`, DatabaseRequests.getRevTransformations(result), decodeChecksumListAnswer)) ?? [];
  }

  getExecutionRecord(tf: Checksum): Promise<Record<string, unknown> | null> {
    return this.#get(`Cannot fetch the execution record of "${tf}"`, DatabaseRequests.getMetadata(tf), (text) => {
      const value = decodeJsonAnswer(text);
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("expected a JSON object");
      return value as Record<string, unknown>;
    });
  }

  setExecutionRecord(tf: Checksum, result: Checksum, record: Record<string, unknown>): Promise<boolean> {
    return this.#put(`Cannot store the execution record of "${tf}"`, DatabaseRequests.setMetadata(tf, result, record), [DatabaseStatus.conflict]);
  }

  async getIrreproducible(tf: Checksum, result?: Checksum): Promise<IrreproducibleEntry[]> {
    const entries = await this.#get(`Cannot look up irreproducible entries of "${tf}"`, DatabaseRequests.getIrreproducible(tf, result), (text) => {
      const value = decodeJsonAnswer(text);
      if (!Array.isArray(value)) throw new Error("expected a JSON list");
      return value as IrreproducibleEntry[];
    });
    return entries ?? [];
  }

  /** The bucket probe of `bucketKind` and `label`, or null (services-spec §3.3). */
  getBucketProbe(bucketKind: string, label: string): Promise<BucketProbe | null> {
    return this.#get(`Cannot look up the ${bucketKind} bucket probe "${label}"`, DatabaseRequests.getBucketProbe(bucketKind, label), decodeBucketProbeAnswer);
  }

  /** Stores (upserts) a bucket probe. @throws {SeamlessError} on a read-only client */
  async setBucketProbe(probe: BucketProbe): Promise<void> {
    await this.#put(`Cannot store the ${probe.bucket_kind} bucket probe "${probe.label}"`, DatabaseRequests.setBucketProbe(probe));
  }

  markIrreproducible(tf: Checksum, result: Checksum): Promise<boolean> {
    return this.#put(`Cannot mark "${tf}" irreproducible`, DatabaseRequests.setIrreproducible(tf, result), [DatabaseStatus.notFound, DatabaseStatus.conflict]);
  }

  // --- newer request types (services-spec §9), not part of ResultCache -----------------------

  /** The HashType word of a checksum, or null when the server has none. */
  getHashType(checksum: Checksum): Promise<number | null> {
    return this.#get(`Cannot look up the hash type of "${checksum}"`, DatabaseRequests.getHashType(checksum), decodeHashTypeAnswer);
  }

  /**
   * Offers a HashType word: true when the server now holds it or a tighter one, false when it
   * holds a contradictory word (409).
   *
   * @throws {SeamlessError} for a malformed word, before anything is sent
   */
  setHashType(checksum: Checksum, word: number): Promise<boolean> {
    if (!isValidHashTypeWord(word)) throw new SeamlessError(`Cannot store the hash type of "${checksum}": ${word} is not a well-formed HashType word`);
    return this.#put(`Cannot store the hash type of "${checksum}"`, DatabaseRequests.setHashType(checksum, word), [DatabaseStatus.conflict]);
  }

  /** The result of an expression, or null. */
  getExpression(key: ExpressionKey): Promise<Checksum | null> {
    return this.#get(`Cannot look up expression on "${key.checksum}"`, DatabaseRequests.getExpression(key), decodeChecksumAnswer);
  }

  /** Records an expression result: false when the server holds a different result (409). */
  setExpression(key: ExpressionKey, result: Checksum): Promise<boolean> {
    return this.#put(`Cannot record expression on "${key.checksum}"`, DatabaseRequests.setExpression(key, result), [DatabaseStatus.conflict]);
  }

  /** Expressions recorded as giving `result` (either answer shape is understood). */
  async getRevExpressions(result: Checksum): Promise<ExpressionEntry[]> {
    return (await this.#get(`Cannot look up expressions giving "${result}"`, DatabaseRequests.getRevExpressions(result), decodeRevExpressionsAnswer)) ?? [];
  }

  close(): void {}
}
