/**
 * A hashserver client used as a {@link BufferStore} (services-spec §2, §6.2).
 * @module
 */
import { createReadStream, renameSync } from "node:fs";
import type { Checksum } from "../checksum/checksum.ts";
import { StreamingHasher, computeChecksum } from "../checksum/sha256.ts";
import { compressionSuffixOf, decompress } from "../checksum/compression.ts";
import { ChecksumMismatchError, DiskWriteError, RemoteError } from "../errors.ts";
import { trivialBuffer } from "../checksum/trivial.ts";
import {
  HAS_BATCH_SIZE, HashserverPath, HashserverStatus, decodeBufferLengthAnswer, decodeHasAnswer, encodeChecksumList, isPutSuccess,
} from "../wire/hashserver.ts";
import { describeNetworkError, normalizeBaseUrl, withRetries, type HttpAnswer, type HttpRequestOptions } from "../wire/http-client.ts";
import { socketTransport, type HttpTransport } from "../wire/transport.ts";
import { BatchedFileWriter } from "./batched-writer.ts";
import { describeWriteError, tempPathFor } from "../disk/atomic-write.ts";
import { sourceChanged } from "./bufferdir.ts";
import type { BufferStore } from "./store.ts";
import { readFileSync } from "node:fs";

const JSON_HEADERS = { "content-type": "application/json" };

/** A remote hashserver. */
export class HttpBufferStore implements BufferStore {
  readonly location: string;
  readonly #transport: HttpTransport;
  #healthy = false;

  /**
   * @param url the hashserver
   * @param options `healthy`: the caller has just checked `/healthcheck` (the launcher
   *   handshake), so the first request skips it; `transport`: how requests reach the server
   *   (default: sockets to `url`; tests pass the server handler itself)
   */
  constructor(url: string, options: { healthy?: boolean; transport?: HttpTransport } = {}) {
    this.location = url.replace(/\/+$/, "");
    this.#healthy = options.healthy ?? false;
    this.#transport = options.transport ?? socketTransport(normalizeBaseUrl(url));
  }

  /**
   * Runs the first exchange of this client beside its `GET /healthcheck` (services-spec §6.1)
   * instead of after it, so the check costs no round trip of its own; an unreachable server is
   * still reported by the check, in one line, before anything the exchange says.
   */
  async #withHealthCheck<T>(exchange: () => Promise<T>): Promise<T> {
    if (this.#healthy) return exchange();
    const health = this.#ensureHealthy();
    const outcome = exchange();
    outcome.catch(() => {}); // the health check's failure, if any, is the one reported
    await health;
    return outcome;
  }

  /** `GET /healthcheck`, once per client (services-spec §6.1). */
  async #ensureHealthy(): Promise<void> {
    if (this.#healthy) return;
    try {
      const answer = await this.#transport.request(HashserverPath.healthcheck, { method: "GET", timeoutMs: 10_000 });
      if (answer.status !== HashserverStatus.ok) throw new RemoteError(`status ${answer.status}`, this.location, answer.status);
    } catch (error) {
      throw new RemoteError(`Cannot reach buffer server ${this.location}: ${describeNetworkError(error)}`, this.location, undefined, {
        cause: error,
        hint: "check --hashserver / SEAMLESS_HASHSERVER, or start one with 'seamless hashserver DIR --writable'",
      });
    }
    this.#healthy = true;
  }

  /** One request; a network failure becomes a RemoteError that says what was being done. */
  async #request(what: string, path: string, options: HttpRequestOptions): Promise<HttpAnswer> {
    try {
      return await this.#transport.request(path, options);
    } catch (error) {
      throw new RemoteError(`${what}: ${this.location}: ${describeNetworkError(error)}`, this.location, undefined, { cause: error });
    }
  }

  #httpError(what: string, status: number, body: Buffer): RemoteError {
    let detail = body.toString("utf8").slice(0, 200);
    try {
      const message = (JSON.parse(body.toString("utf8")) as { message?: unknown }).message;
      if (typeof message === "string") detail = message; // a server's own words, e.g. 507 "No space left on device"
    } catch {}
    return new RemoteError(`${what}: server ${this.location} answered ${status}${detail ? ` (${detail})` : ""}`, this.location, status);
  }

  /** A GET-with-body list query (`/has`, `/buffer-length`), in batches of HAS_BATCH_SIZE. */
  async #queryList<T>(what: string, path: string, checksums: Checksum[], decode: (text: string, expected: number) => T[]): Promise<T[]> {
    return this.#withHealthCheck(() => this.#queryBatches(what, path, checksums, decode));
  }

  async #queryBatches<T>(what: string, path: string, checksums: Checksum[], decode: (text: string, expected: number) => T[]): Promise<T[]> {
    const result: T[] = [];
    for (let start = 0; start < checksums.length; start += HAS_BATCH_SIZE) {
      const batch = checksums.slice(start, start + HAS_BATCH_SIZE);
      const answer = await withRetries(async () => {
        const a = await this.#request(what, path, { method: "GET", body: encodeChecksumList(batch), headers: JSON_HEADERS, timeoutMs: 60_000 });
        if (a.status !== HashserverStatus.ok) throw this.#httpError(what, a.status, a.body);
        return a;
      });
      result.push(...decode(answer.body.toString("utf8"), batch.length));
    }
    return result;
  }

  async has(checksums: Checksum[]): Promise<boolean[]> {
    if (checksums.every((checksum) => trivialBuffer(checksum) !== null)) return checksums.map(() => true);
    const present = await this.#queryList("Cannot check buffers", HashserverPath.has, checksums, decodeHasAnswer);
    return present.map((stored, i) => stored || trivialBuffer(checksums[i]!) !== null);
  }

  async lengths(checksums: Checksum[]): Promise<(number | null)[]> {
    const lengths = await this.#queryList("Cannot get buffer lengths", HashserverPath.bufferLength, checksums, decodeBufferLengthAnswer);
    // 0 means absent or empty, true means promised: neither is a usable length.
    return lengths.map((n) => (typeof n === "number" && n > 0 ? n : null));
  }

  get(checksum: Checksum): Promise<Uint8Array | null> {
    return this.#withHealthCheck(() => this.#get(checksum));
  }

  async #get(checksum: Checksum): Promise<Uint8Array | null> {
    // A wrong digest is downloaded once more before it counts as corruption (services-spec §6.2).
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await withRetries(async () => {
        const a = await this.#request(`Cannot fetch buffer "${checksum}"`, HashserverPath.buffer(checksum), { method: "GET", timeoutMs: 600_000 });
        if (a.status !== HashserverStatus.ok && a.status !== HashserverStatus.notFound) {
          throw this.#httpError(`Cannot fetch buffer "${checksum}"`, a.status, a.body);
        }
        return a;
      });
      if (answer.status === HashserverStatus.notFound) return trivialBuffer(checksum);
      if (computeChecksum(answer.body) === checksum) return new Uint8Array(answer.body);
    }
    throw new ChecksumMismatchError(`Buffer "${checksum}" from ${this.location} does not match its checksum`);
  }

  async getToFile(checksum: Checksum, destination: string, onProgress?: (bytes: number) => void): Promise<boolean> {
    await this.#ensureHealthy();
    return withRetries(async () => {
      const temp = tempPathFor(destination);
      const output = new BatchedFileWriter(temp);
      const hasher = new StreamingHasher();
      try {
        const outcome = await this.#transport.streamGet(HashserverPath.buffer(checksum), (chunk) => {
          hasher.update(chunk);
          output.write(chunk);
          onProgress?.(chunk.byteLength);
        });
        if (outcome.kind === "unsupported") {
          await output.discard();
          return this.#getToFileViaClient(checksum, destination);
        }
        if (outcome.kind === "status") {
          await output.discard();
          if (outcome.status === HashserverStatus.notFound) return this.#getToFileViaClient(checksum, destination);
          throw this.#httpError(`Cannot fetch buffer "${checksum}"`, outcome.status, Buffer.from(outcome.body));
        }
        await output.close();
        const actual = hasher.digest();
        if (actual !== checksum) {
          throw new ChecksumMismatchError(`Buffer "${checksum}" from ${this.location} does not match its checksum (got ${actual})`);
        }
        renameSync(temp, destination);
        return true;
      } catch (error) {
        await output.discard();
        const described = describeWriteError(error, destination);
        if (described instanceof DiskWriteError) throw described;
        throw error instanceof ChecksumMismatchError || error instanceof RemoteError
          ? error
          : new RemoteError(`Download of "${checksum}" from ${this.location} failed: ${describeNetworkError(error)}`, this.location);
      }
    });
  }

  /** The ordinary-client path, for servers whose answers the raw reader does not handle. */
  async #getToFileViaClient(checksum: Checksum, destination: string): Promise<boolean> {
    const bytes = await this.get(checksum);
    if (!bytes) return false;
    const temp = tempPathFor(destination);
    const output = new BatchedFileWriter(temp);
    output.write(bytes);
    await output.close();
    renameSync(temp, destination);
    return true;
  }

  async put(checksum: Checksum, bytes: Uint8Array): Promise<void> {
    const actual = computeChecksum(bytes);
    if (actual !== checksum) throw new ChecksumMismatchError(`Refusing to upload buffer "${checksum}": its bytes have checksum ${actual}`);
    await this.#ensureHealthy();
    await withRetries(async () => {
      const a = await this.#request(`Cannot upload buffer "${checksum}"`, HashserverPath.buffer(checksum), { method: "PUT", body: bytes, timeoutMs: 600_000 });
      if (!isPutSuccess(a.status)) throw this.#httpError(`Cannot upload buffer "${checksum}"`, a.status, a.body);
    });
  }

  async putFile(checksum: Checksum, path: string, onProgress?: (bytes: number) => void): Promise<void> {
    const suffix = compressionSuffixOf(path);
    if (suffix) return this.put(checksum, decompress(readFileSync(path), suffix));
    await this.#ensureHealthy();
    await withRetries(async () => {
      const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
      // Hashed as sent: when the server refuses the checksum, this tells whether the file changed meanwhile.
      const hasher = new StreamingHasher();
      const counted = (async function* () {
        for await (const chunk of stream) {
          hasher.update(chunk as Buffer);
          onProgress?.((chunk as Buffer).byteLength);
          yield chunk as Buffer;
        }
      })();
      const a = await this.#transport.requestStreaming(HashserverPath.buffer(checksum), { method: "PUT", timeoutMs: 600_000 }, counted);
      if (!isPutSuccess(a.status)) {
        if (a.status === HashserverStatus.badRequest) {
          const sent = hasher.digest();
          if (sent !== checksum) throw sourceChanged(path, checksum, sent);
        }
        throw this.#httpError(`Cannot upload buffer "${checksum}"`, a.status, a.body);
      }
    });
  }

  close(): void {}
}
