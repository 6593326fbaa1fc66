/**
 * A jobserver client (services-spec §6.4, issue 22 §3): `/run-transformation` with no total
 * timeout, both answer forms read, cancellation by soft-cancelling this client's member.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { InterruptedError, RemoteError } from "../errors.ts";
import {
  JobserverBody, JobserverPath, JobserverStatus, JobserverWireError, decodeCancelAnswer, decodeRunTransformationAnswer, decodeStatusAnswer,
  encodeRunTransformationRequest, encodeSoftcancelRequest, type CancelAnswer, type RecordRuntime, type RunTransformationRequest,
  type TransformationStatus,
} from "../wire/jobserver.ts";
import { describeNetworkError, normalizeBaseUrl, type HttpAnswer, type HttpRequestOptions } from "../wire/http-client.ts";
import { socketTransport, type HttpTransport } from "../wire/transport.ts";

/** A successful run. */
export interface JobserverResult {
  checksum: Checksum;
  /** Present when the server answered the structured form. */
  runtime?: RecordRuntime;
}

/** The transformation was canceled on the server (by anyone). */
export class TransformationCanceledError extends InterruptedError {}

/** `/run-transformation` got no answer: the connection failed or broke (the jobserver died mid-job). */
export class JobserverConnectionLostError extends RemoteError {}

/** Options of {@link JobserverClient}. */
export interface JobserverClientOptions {
  /**
   * Starts the jobserver again (through the launcher that started it) and answers a client of
   * it; absent for a jobserver given by URL.
   */
  relaunch?: () => Promise<JobserverClient>;
  /** How requests reach the server (default: sockets to the URL; tests pass the server handler). */
  transport?: HttpTransport;
}

const JSON_HEADERS = { "content-type": "application/json" };

/** A remote jobserver. */
export class JobserverClient {
  readonly location: string;
  readonly #transport: HttpTransport;
  /** Relaunches a launched jobserver (level 3 retries once after losing it mid-job), or null. */
  readonly relaunch: (() => Promise<JobserverClient>) | null;
  #memberCounter = 0;

  /**
   * @param url the jobserver
   * @param options `transport`: how requests reach the server (default: sockets to `url`;
   *   tests pass the server handler itself); `relaunch`: see {@link JobserverClientOptions}
   */
  constructor(url: string, options: JobserverClientOptions = {}) {
    this.location = url.replace(/\/+$/, "");
    this.#transport = options.transport ?? socketTransport(normalizeBaseUrl(url));
    this.relaunch = options.relaunch ?? null;
  }

  async #request(what: string, path: string, options: HttpRequestOptions): Promise<HttpAnswer> {
    try {
      return await this.#transport.request(path, options);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new JobserverConnectionLostError(`${what}: jobserver ${this.location}: ${describeNetworkError(error)}`, this.location, undefined, { cause: error });
    }
  }

  /** `GET /healthcheck`. @throws {RemoteError} when the server is not there */
  async healthcheck(): Promise<void> {
    const answer = await this.#request("Cannot reach the jobserver", JobserverPath.healthcheck, { method: "GET", timeoutMs: 10_000 });
    if (answer.status !== JobserverStatus.ok || answer.body.toString() !== JobserverBody.healthy) {
      throw new RemoteError(`Jobserver ${this.location} is not healthy (status ${answer.status})`, this.location, answer.status);
    }
  }

  /** A member id unique to this client process and call. */
  newMemberId(): string {
    return `seamless-ts-${process.pid}-${Date.now().toString(36)}-${++this.#memberCounter}`;
  }

  /**
   * Runs a transformation on the jobserver, waiting as long as it takes (no total timeout,
   * services-spec §4.7 QUIRK). Aborting `signal` soft-cancels this client's membership, so the
   * job stops unless another client waits for it too.
   *
   * @throws {TransformationCanceledError} when canceled (on the server, or through `signal`)
   * @throws {JobserverConnectionLostError} when the jobserver cannot be reached or the connection breaks
   * @throws {RemoteError} with the server's text for a failed transformation or a refused request
   */
  async runTransformation(request: RunTransformationRequest, signal?: AbortSignal): Promise<JobserverResult> {
    const memberId = request.member_id ?? this.newMemberId();
    const body = encodeRunTransformationRequest({ ...request, member_id: memberId });
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let answer: HttpAnswer;
    try {
      answer = await this.#request(`Cannot run transformation ${request.tf_checksum}`, JobserverPath.runTransformation, { method: "GET", body, headers: JSON_HEADERS, signal: controller.signal });
    } catch (error) {
      if (controller.signal.aborted) {
        await this.softcancelTransformation(request.tf_checksum, memberId).catch(() => undefined);
        throw new TransformationCanceledError(`Canceled transformation ${request.tf_checksum}`);
      }
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    const text = answer.body.toString("utf8");
    if (answer.status !== JobserverStatus.ok) {
      throw new RemoteError(`Transformation ${request.tf_checksum} failed on jobserver ${this.location} (status ${answer.status}): ${text.trimEnd()}`, this.location, answer.status);
    }
    let decoded;
    try {
      decoded = decodeRunTransformationAnswer(text);
    } catch (error) {
      if (error instanceof JobserverWireError) throw new RemoteError(`Jobserver ${this.location}: ${error.body}`, this.location, answer.status);
      throw error;
    }
    if (decoded.kind === "canceled") throw new TransformationCanceledError(`Canceled transformation ${request.tf_checksum}`);
    if (decoded.kind === "remote-job") throw new RemoteError(`Jobserver ${this.location} wrote a remote job instead of computing: ${decoded.marker}`, this.location);
    return { checksum: decoded.checksum, runtime: decoded.runtime };
  }

  /** `GET /transformation-status/{tf}`. */
  async transformationStatus(tf: Checksum): Promise<TransformationStatus> {
    const answer = await this.#request(`Cannot ask the status of ${tf}`, JobserverPath.transformationStatus(tf), { method: "GET", timeoutMs: 10_000 });
    this.#expectOk(answer, `status of ${tf}`);
    return decodeStatusAnswer(answer.body.toString("utf8"));
  }

  /** `POST /cancel-transformation/{tf}`: ends the run for every member. */
  async cancelTransformation(tf: Checksum): Promise<CancelAnswer> {
    const answer = await this.#request(`Cannot cancel ${tf}`, JobserverPath.cancelTransformation(tf), { method: "POST", timeoutMs: 10_000 });
    this.#expectOk(answer, `cancel of ${tf}`);
    return decodeCancelAnswer(answer.body.toString("utf8"));
  }

  /** `POST /softcancel-transformation/{tf}`: leaves the run as `memberId`. */
  async softcancelTransformation(tf: Checksum, memberId: string): Promise<CancelAnswer> {
    const answer = await this.#request(`Cannot soft-cancel ${tf}`, JobserverPath.softcancelTransformation(tf), { method: "POST", body: encodeSoftcancelRequest(memberId), headers: JSON_HEADERS, timeoutMs: 10_000 });
    this.#expectOk(answer, `soft-cancel of ${tf}`);
    return decodeCancelAnswer(answer.body.toString("utf8"));
  }

  #expectOk(answer: HttpAnswer, what: string): void {
    if (answer.status === JobserverStatus.ok) return;
    const hint = answer.status === JobserverStatus.notFound ? " (an older jobserver without cancellation endpoints?)" : "";
    throw new RemoteError(`Jobserver ${this.location} refused the ${what}: status ${answer.status}${hint}: ${answer.body.toString("utf8").trim()}`, this.location, answer.status);
  }
}

