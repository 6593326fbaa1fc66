/**
 * The hashserver service (services-spec §2) as a plain handler: verified GETs, streamed and
 * verified PUTs, promises, batched `/has` and `/buffer-length`.
 * @module
 */
import { closeSync, existsSync, fstatSync, linkSync, mkdirSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { assertWrittenSize, describeWriteError, writeAllSync } from "../disk/atomic-write.ts";
import { DiskWriteError } from "../errors.ts";
import { join } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { StreamingHasher } from "../checksum/sha256.ts";
import { Semaphore } from "../concurrency/semaphore.ts";
import { CHUNK_BYTES as READ_CHUNK_BYTES } from "../checksum/chunk-buffer.ts";
import { BufferDir, PREFIX_MARKER, type Layout } from "../buffers/bufferdir.ts";
import {
  HashserverBody, HashserverPath, HashserverStatus, MAX_CHECKSUM_LIST_BODY_BYTES, PROMISE_TTL_SECONDS, corruptionMessage, invalidDataBody,
  encodePromiseAnswer, matchBufferGet, matchHashserverPut, parseWireChecksum, runtimeErrorBody,
} from "../wire/hashserver.ts";
import { HttpError, readBody, type ServiceHandler, type ServiceRequest, type ServiceResponse } from "./http.ts";

/** Options of {@link createHashserverHandler}. */
export interface HashserverOptions {
  directory: string;
  writable: boolean;
  layout: Layout;
  extraDirs?: string[];
}

const JSON_TYPE = { "content-type": "application/json" };
const TEXT_TYPE = { "content-type": "text/plain; charset=utf-8" };
const LOCK_STALE_MS = 120_000;

/** Checksum → promise expiry (ms since epoch) and waiters. */
class PromiseRegistry {
  #expiry = new Map<Checksum, number>();
  #waiters = new Map<Checksum, (() => void)[]>();
  promise(checksum: Checksum): void {
    this.#expiry.set(checksum, Date.now() + PROMISE_TTL_SECONDS * 1000);
  }
  isActive(checksum: Checksum): boolean {
    const expiry = this.#expiry.get(checksum);
    if (expiry === undefined) return false;
    if (expiry > Date.now()) return true;
    this.resolve(checksum);
    return false;
  }
  resolve(checksum: Checksum): void {
    this.#expiry.delete(checksum);
    for (const wake of this.#waiters.get(checksum) ?? []) wake();
    this.#waiters.delete(checksum);
  }
  /** Waits until the promise is resolved or expires. */
  async wait(checksum: Checksum): Promise<void> {
    while (this.isActive(checksum)) {
      const remaining = this.#expiry.get(checksum)! - Date.now();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(remaining, 0) + 10);
        const list = this.#waiters.get(checksum) ?? [];
        list.push(() => {
          clearTimeout(timer);
          resolve();
        });
        this.#waiters.set(checksum, list);
      });
    }
  }
}

/** Checksums being PUT right now, with a way to wait for them. */
class InFlight {
  /** Per checksum: how many uploads of it are being received, and who waits for them all to end. */
  #entries = new Map<Checksum, { count: number; done: Promise<void>; resolve: () => void }>();
  has(checksum: Checksum): boolean {
    return this.#entries.has(checksum);
  }
  start(checksum: Checksum): void {
    const entry = this.#entries.get(checksum);
    if (entry) {
      entry.count++;
      return;
    }
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.#entries.set(checksum, { count: 1, done, resolve });
  }
  finish(checksum: Checksum): void {
    const entry = this.#entries.get(checksum);
    if (!entry || --entry.count > 0) return;
    this.#entries.delete(checksum);
    entry.resolve();
  }
  /** One upload of it stored the buffer: who waits can read it now, while others still arrive. */
  stored(checksum: Checksum): void {
    const entry = this.#entries.get(checksum);
    if (!entry) return;
    entry.resolve();
    entry.done = new Promise<void>((r) => (entry.resolve = r));
  }
  /** Until an upload of it has stored the buffer, or every upload of it has ended. */
  async wait(checksum: Checksum): Promise<void> {
    await this.#entries.get(checksum)?.done;
  }
}

function checksumFromPath(text: string): Checksum {
  const parsed = parseWireChecksum(text);
  if (!parsed.ok) throw new HttpError(HashserverStatus.badRequest, invalidDataBody("value_error", ["path", "checksum"], parsed.message, text), "application/json");
  return parsed.checksum;
}

async function checksumListFromBody(request: ServiceRequest): Promise<Checksum[]> {
  const text = Buffer.from(await readBody(request, MAX_CHECKSUM_LIST_BODY_BYTES)).toString("utf8");
  const isJson = (request.headers["content-type"] ?? "").includes("json");
  if (text.trim() === "") {
    throw new HttpError(HashserverStatus.badRequest, invalidDataBody("missing", ["body"], "Field required", null), "application/json");
  }
  let value: unknown;
  try {
    value = isJson ? JSON.parse(text) : text;
  } catch {
    throw new HttpError(HashserverStatus.badRequest, invalidDataBody("json_invalid", ["body", 0], "JSON decode error", text), "application/json");
  }
  if (!Array.isArray(value)) {
    throw new HttpError(HashserverStatus.badRequest, invalidDataBody("list_type", ["body"], "Input should be a valid list", value), "application/json");
  }
  return value.map((item, index) => {
    if (typeof item !== "string") throw new Error(`non-string item in checksum list: ${JSON.stringify(item)}`);
    const parsed = parseWireChecksum(item);
    if (!parsed.ok) throw new HttpError(HashserverStatus.badRequest, invalidDataBody("value_error", ["body", index], parsed.message, item), "application/json");
    return parsed.checksum;
  });
}

function lockFilesOf(store: BufferDir, checksum: Checksum, path: string): string[] {
  const dirLock = store.layout === "prefix" ? join(store.directory, checksum.slice(0, 2), ".LOCK") : join(store.directory, ".LOCK");
  return [dirLock, `${path}.LOCK`];
}

function anyLiveLock(locks: string[]): boolean {
  return locks.some((lock) => {
    try {
      return Date.now() - statSync(lock).mtimeMs < LOCK_STALE_MS;
    } catch {
      return false;
    }
  });
}

async function waitForLocks(locks: string[]): Promise<void> {
  while (anyLiveLock(locks)) await Bun.sleep(1000);
}

/**
 * From this size a GET is verified while it is sent instead of before (Python hashes first,
 * then sends; one pass instead of two took a verified 1 GiB download from ~2.7 s to ~2.0 s here).
 * A mismatch then cuts the connection instead of answering 400; smaller files keep the
 * Python behaviour exactly.
 */
const VERIFY_WHILE_SENDING_FROM = 64 * 1024 * 1024;

/**
 * Hashes a stored file without stalling the server: synchronous 4 MiB reads (1 GiB in ~1.0 s
 * here, against ~1.25 s with awaited async reads), yielding to the event loop after each, so
 * health checks and other requests wait at most a few milliseconds.
 */
async function hashFileAt(path: string): Promise<Checksum> {
  const hasher = new StreamingHasher();
  const fd = openSync(path, "r");
  try {
    // Sized to the file: a 4 MiB allocation per small GET would cost more than its hashing.
    const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(READ_CHUNK_BYTES, fstatSync(fd).size)));
    for (;;) {
      const bytesRead = readSync(fd, chunk, 0, chunk.byteLength, null);
      if (bytesRead <= 0) break;
      hasher.update(chunk.subarray(0, bytesRead));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    closeSync(fd);
  }
  return hasher.digest();
}

/**
 * Creates the hashserver request handler.
 *
 * @param options directory, writability, layout and extra read-only directories
 * @returns a handler; errors it throws are {@link HttpError}s
 * @example
 * ```ts
 * const handle = createHashserverHandler({ directory: dir, writable: true, layout: "prefix" });
 * const response = await handle(makeServiceRequest("GET", "/healthcheck")); // 200 "OK"
 * ```
 */
export function createHashserverHandler(options: HashserverOptions): ServiceHandler {
  const store = new BufferDir(options.directory, { layout: options.layout, extraDirs: options.extraDirs });
  // QUIRK: the Python server rewrites the prefix marker on every GET, which breaks on a
  // read-only filesystem; we write it once, here.
  if (options.layout === "prefix" && !existsSync(join(options.directory, PREFIX_MARKER))) {
    try {
      store.ensureExists();
    } catch {}
  }
  const promises = new PromiseRegistry();
  // Verifying GETs read whole files: a few at a time keeps the disk from thrashing.
  const verifying = new Semaphore(4);
  const inFlight = new InFlight();
  const encodingName = "sha-256";

  const getBuffer = async (checksum: Checksum): Promise<ServiceResponse> => {
    await inFlight.wait(checksum);
    for (;;) {
      let found = store.locate(checksum);
      if (!found) {
        await waitForLocks(lockFilesOf(store, checksum, store.pathFor(checksum)));
        found = store.locate(checksum);
      }
      if (!found && promises.isActive(checksum)) {
        await promises.wait(checksum);
        continue;
      }
      if (!found) return { status: HashserverStatus.notFound, body: HashserverBody.notFound };
      const stats = statSync(found.path);
      if (!stats.isFile()) throw new HttpError(HashserverStatus.badRequest, runtimeErrorBody(`File at path ${found.path} is not a file.`), "application/json");
      if (found.suffix) {
        let bytes: Uint8Array | null;
        try {
          bytes = store.getSync(checksum);
        } catch {
          throw new HttpError(HashserverStatus.badRequest, runtimeErrorBody(corruptionMessage(found.path, encodingName)), "application/json");
        }
        return { status: HashserverStatus.ok, headers: { "content-type": "application/octet-stream" }, body: bytes! };
      }
      const locks = lockFilesOf(store, checksum, found.path);
      if (stats.size >= VERIFY_WHILE_SENDING_FROM && !anyLiveLock(locks)) {
        return {
          status: HashserverStatus.ok,
          headers: { "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${checksum}"` },
          body: { filePath: found.path, size: stats.size, verifyWhileSending: checksum },
        };
      }
      if ((await verifying.run(() => hashFileAt(found.path))) !== checksum) {
        await waitForLocks(locks);
        if ((await verifying.run(() => hashFileAt(found.path))) !== checksum) {
          throw new HttpError(HashserverStatus.badRequest, runtimeErrorBody(corruptionMessage(found.path, encodingName)), "application/json");
        }
      }
      return {
        status: HashserverStatus.ok,
        headers: { "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${checksum}"` },
        body: { filePath: found.path, size: statSync(found.path).size },
      };
    }
  };

  const putBuffer = async (checksum: Checksum, request: ServiceRequest): Promise<ServiceResponse> => {
    const target = store.pathFor(checksum);
    if (existsSync(target)) {
      promises.resolve(checksum);
      return { status: HashserverStatus.alreadyPresent, body: "" };
    }
    if (store.layout === "prefix") mkdirSync(join(store.directory, checksum.slice(0, 2)), { recursive: true });
    // Python answers a second upload of a checksum being received `202` at once and drops its
    // bytes, so nothing is stored if the first then fails (services-spec §2.4.3 step 3, QUIRK).
    // Here each upload is received into its own temp file and verified; the first to finish
    // stores the buffer, the other finds it there.
    inFlight.start(checksum);
    const temp = `${target}-${Math.random().toString(36).slice(2, 10).padEnd(8, "0")}`;
    let fd: number;
    try {
      fd = openSync(temp, "w", 0o600);
    } catch (error) {
      inFlight.finish(checksum);
      return diskFailure(error, target);
    }
    try {
      const hasher = new StreamingHasher();
      let written = 0;
      try {
        for await (const chunk of request.body) {
          hasher.update(chunk);
          try {
            writeAllSync(fd, chunk);
          } catch (error) {
            return diskFailure(error, target);
          }
          written += chunk.byteLength;
        }
        assertWrittenSize(fd, written, target);
      } catch (error) {
        if (error instanceof DiskWriteError) return diskFailure(error, target);
        return { status: HashserverStatus.badRequest, body: "" }; // client went away
      } finally {
        closeSync(fd);
      }
      if (hasher.digest() !== checksum) {
        return { status: HashserverStatus.badRequest, headers: TEXT_TYPE, body: HashserverBody.incorrectChecksum };
      }
      try {
        linkSync(temp, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      inFlight.stored(checksum);
      promises.resolve(checksum);
      return { status: HashserverStatus.ok, headers: TEXT_TYPE, body: HashserverBody.stored };
    } finally {
      // Unlike the Python server we never unlink the final path on failure (services-spec §2.4.3 QUIRK).
      rmSync(temp, { force: true });
      inFlight.finish(checksum);
    }
  };

  return async (request) => {
    const { method, path } = request;
    if (method === "GET") {
      if (path === HashserverPath.healthcheck) return { status: HashserverStatus.ok, headers: TEXT_TYPE, body: HashserverBody.healthy };
      if (path === HashserverPath.has) {
        const checksums = await checksumListFromBody(request);
        const present = checksums.map((checksum) => inFlight.has(checksum) || store.locate(checksum) !== null || promises.isActive(checksum));
        return { status: HashserverStatus.ok, headers: JSON_TYPE, body: JSON.stringify(present) };
      }
      if (path === HashserverPath.bufferLength) {
        const checksums = await checksumListFromBody(request);
        await Promise.all(checksums.map((checksum) => inFlight.wait(checksum)));
        const lengths = checksums.map((checksum) => (promises.isActive(checksum) ? true : store.lengthOf(checksum) ?? 0));
        return { status: HashserverStatus.ok, headers: JSON_TYPE, body: JSON.stringify(lengths) };
      }
      const checksumText = matchBufferGet(path);
      if (checksumText !== null) return getBuffer(checksumFromPath(checksumText));
      return { status: HashserverStatus.notFound, headers: JSON_TYPE, body: HashserverBody.noRoute };
    }
    if (method === "PUT") {
      const route = matchHashserverPut(path);
      if (route?.kind === "promise") {
        if (!options.writable) return { status: HashserverStatus.notFound, headers: JSON_TYPE, body: HashserverBody.noRoute };
        const checksum = checksumFromPath(route.checksumText);
        promises.promise(checksum);
        return { status: HashserverStatus.inFlight, headers: JSON_TYPE, body: encodePromiseAnswer(checksum) };
      }
      if (route?.kind === "buffer") {
        if (!options.writable) {
          return { status: HashserverStatus.methodNotAllowed, headers: { ...JSON_TYPE, allow: "GET" }, body: HashserverBody.methodNotAllowed };
        }
        return putBuffer(checksumFromPath(route.checksumText), request);
      }
    }
    return { status: HashserverStatus.methodNotAllowed, headers: JSON_TYPE, body: HashserverBody.methodNotAllowed };
  };
}

/**
 * The answer to a PUT whose bytes could not be written: 507 with a body for a full disk or a
 * quota (the client can say why), 500 for anything else but running out of file descriptors
 * (thrown on). Nothing was committed.
 */
function diskFailure(error: unknown, target: string): ServiceResponse {
  const code = (error as NodeJS.ErrnoException)?.code;
  // Out of file descriptors is the server's state, not the disk's: the one error path answers
  // 503 with retry-after and logs it (servers/http.ts answerError).
  if (code === "EMFILE" || code === "ENFILE") throw error;
  const described = describeWriteError(error, target);
  if (described instanceof DiskWriteError && (described.code === "ENOSPC" || described.code === "EDQUOT")) {
    return { status: HashserverStatus.insufficientStorage, headers: { "content-type": "application/json" }, body: runtimeErrorBody(described.message) };
  }
  const message = described instanceof DiskWriteError ? described.message : `Cannot write "${target}": ${(error as Error)?.message ?? error}`;
  return { status: HashserverStatus.writeFailed, headers: { "content-type": "application/json" }, body: runtimeErrorBody(message) };
}
