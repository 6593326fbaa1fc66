/**
 * The queue daemon's client: finds the daemon through `<queue dir>/daemon.json` (or a URL),
 * sends requests built from `wire/queue.ts`, and turns error answers into `SeamlessError`s with
 * the daemon's one-line message.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { isProcessAlive } from "../process/process-tree.ts";
import { NotFoundError, RemoteError, SeamlessError } from "../errors.ts";
import {
  encodeJobListQuery, QueuePath, QueueStatus, type JobListQuery, type JobObject, type JobPage, type JobRequest,
  type QueueDaemonStatus, type QueueErrorBody, type WaitAnswer,
} from "../wire/queue.ts";
import type { FetchLike } from "../wire/transport.ts";

/** A daemon that cannot be reached. */
export class QueueUnreachableError extends SeamlessError {}

/** Where the client sends its requests. */
export interface QueueEndpoint {
  url: string;
  token: string | null;
}

/**
 * Reads the address a running daemon published.
 *
 * @returns the endpoint, or null when no daemon is running (no file, or its process is gone)
 */
export function readDaemonAddress(addressPath: string): (QueueEndpoint & { pid: number }) | null {
  if (!existsSync(addressPath)) return null;
  let address: { pid: number; url: string; token_file: string | null };
  try {
    address = JSON.parse(readFileSync(addressPath, "utf8"));
  } catch {
    return null;
  }
  // A daemon killed with SIGKILL may linger as a zombie of a parent that does not reap, and its
  // pid may since belong to another program.
  if (!isProcessAlive(address.pid)) return null;
  try {
    if (!readFileSync(`/proc/${address.pid}/cmdline`, "latin1").includes("\0queue\0")) return null;
  } catch {}
  const token = process.env.SEAMLESS_QUEUE_TOKEN ?? (address.token_file && existsSync(address.token_file) ? readFileSync(address.token_file, "utf8").trim() : null);
  return { url: address.url, token, pid: address.pid };
}

/** Talks to one queue daemon. */
export class QueueClient {
  readonly #fetch: FetchLike;

  /**
   * @param endpoint the daemon's URL and token
   * @param options `fetch`: how requests reach the daemon (default the global `fetch`; tests
   *   pass the daemon's handler itself)
   */
  constructor(readonly endpoint: QueueEndpoint, options: { fetch?: FetchLike } = {}) {
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  async #request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.endpoint.token) headers.authorization = `Bearer ${this.endpoint.token}`;
    let response: Response;
    try {
      response = await this.#fetch(`${this.endpoint.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (error) {
      if ((error as Error)?.name === "AbortError") throw error;
      throw new QueueUnreachableError(`Cannot reach the queue daemon at ${this.endpoint.url}: ${(error as Error).message}`);
    }
    if (response.ok) return response;
    const text = await response.text();
    let message = text;
    try {
      message = (JSON.parse(text) as QueueErrorBody).error ?? text;
    } catch {}
    if (response.status === QueueStatus.notFound) throw new NotFoundError(message);
    if (response.status === QueueStatus.badRequest || response.status === QueueStatus.conflict) throw new SeamlessError(message);
    throw new RemoteError(message, this.endpoint.url, response.status);
  }

  async #json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return (await (await this.#request(method, path, body, signal)).json()) as T;
  }

  /** `POST /jobs` with one job. */
  submit(job: JobRequest): Promise<JobObject> {
    return this.#json("POST", QueuePath.jobs, job);
  }

  /** `POST /jobs` with a list: one transaction, ids in order. */
  submitBatch(jobs: JobRequest[]): Promise<JobObject[]> {
    return this.#json("POST", QueuePath.jobs, jobs);
  }

  /** `GET /jobs/{id}`, optionally held until the job ends (at most `waitSeconds`). */
  getJob(id: number, waitSeconds?: number): Promise<JobObject> {
    return this.#json("GET", `${QueuePath.job(id)}${waitSeconds === undefined ? "" : `?wait=${waitSeconds}`}`);
  }

  listJobs(query: Partial<JobListQuery>): Promise<JobPage> {
    return this.#json("GET", `${QueuePath.jobs}${encodeJobListQuery(query)}`);
  }

  /** `DELETE /jobs/{id}`. */
  cancel(id: number): Promise<JobObject> {
    return this.#json("DELETE", QueuePath.job(id));
  }

  /** `POST /wait`: resolves when every job ended or after `timeoutSeconds`. */
  wait(ids: number[] | null, timeoutSeconds: number): Promise<WaitAnswer> {
    return this.#json("POST", QueuePath.wait, { ids, timeout: timeoutSeconds });
  }

  /** The log from `from`; followed (streamed until the job ends) with `follow`. */
  async logs(id: number, options: { from?: number; follow?: boolean; signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
    const query = `?from=${options.from ?? 0}${options.follow ? "&follow=1" : ""}`;
    const response = await this.#request("GET", `${QueuePath.logs(id)}${query}`, undefined, options.signal);
    return response.body ?? new ReadableStream({ start: (c) => c.close() });
  }

  status(): Promise<QueueDaemonStatus> {
    return this.#json("GET", QueuePath.status);
  }

  pause(target: { id?: number; group?: string }): Promise<QueueDaemonStatus> {
    return this.#json("POST", QueuePath.pause, target);
  }

  resume(target: { id?: number; group?: string }): Promise<QueueDaemonStatus> {
    return this.#json("POST", QueuePath.resume, target);
  }

  drain(): Promise<QueueDaemonStatus> {
    return this.#json("POST", QueuePath.drain, {});
  }

  stop(): Promise<{ stopping: boolean }> {
    return this.#json("POST", QueuePath.stop, {});
  }

  clean(olderThanSeconds: number): Promise<{ deleted: number }> {
    return this.#json("POST", QueuePath.clean, { older_than: olderThanSeconds });
  }

  setGroup(name: string, parallel: number): Promise<{ name: string; parallel: number; paused: boolean }> {
    return this.#json("PUT", QueuePath.group(name), { parallel });
  }
}
