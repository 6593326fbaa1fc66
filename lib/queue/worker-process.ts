/**
 * The body of a `seamless worker` process: receives jobs from its pool over the IPC channel,
 * runs several at once (each bash command in its own process group), answers each with its
 * result checksum and the runtime the worker measured, and kills a job's process group when
 * the pool cancels it. The worker exits when its parent goes away.
 * @module
 */
import type { BufferStore } from "../buffers/store.ts";
import { SeamlessError } from "../errors.ts";
import type { FromWorker, ToWorker } from "./_worker-protocol.ts";

export type { FromWorker, ToWorker } from "./_worker-protocol.ts";
import { runBashJob, runPythonJob, type WorkerEnvironment } from "./_worker-job.ts";

export { findPythonRunner } from "./_worker-job.ts";
/**
 * The worker's line to its pool: the IPC channel of the process, handed in by `cli/worker.ts`
 * so that lib/ installs no process-wide listener.
 */
export interface WorkerChannel {
  /** Sends one message to the pool (a closed channel drops it). */
  send(message: FromWorker): void;
  /** Calls `listener` with each message from the pool. */
  onMessage(listener: (message: ToWorker) => void): void;
  /** Calls `listener` once the pool has gone away. */
  onDisconnect(listener: () => void): void;
}

/** Options of {@link runWorkerProcess}. */
export interface WorkerProcessOptions {
  store: BufferStore;
  environment: WorkerEnvironment;
  channel: WorkerChannel;
}

/** A failure text travels (IPC, then the jobserver's 500 body) with at most this many characters at each end. */
const FAILURE_END_CHARS = 256 * 1024;

/**
 * A failure text bounded in size: a command that wrote 100 MB to stderr fails with the start of
 * the message (the return code) and the end of its stderr, the middle dropped with a marker.
 */
export function boundedFailure(text: string): string {
  if (text.length <= 2 * FAILURE_END_CHARS) return text;
  const omitted = text.length - 2 * FAILURE_END_CHARS;
  return `${text.slice(0, FAILURE_END_CHARS)}\n[... ${omitted} characters omitted ...]\n${text.slice(-FAILURE_END_CHARS)}`;
}

/**
 * Serves jobs until the IPC channel closes.
 *
 * @param options the buffer store the jobs read from and write to
 * @returns when the parent has gone away
 */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  const send = (message: FromWorker) => options.channel.send(message);
  const running = new Map<number, AbortController>();

  const run = async (message: Extract<ToWorker, { type: "run" }>) => {
    const controller = new AbortController();
    running.set(message.id, controller);
    const hooks = {
      signal: controller.signal,
      onStarted: (processGroup: number) => send({ type: "started", id: message.id, processGroup }),
    };
    try {
      const meta = message.dict.__meta__ as { write_remote_job?: unknown } | undefined;
      if (meta?.write_remote_job) {
        // cli-spec §3.14 --write-remote-job: never computed in its place without saying so.
        throw new SeamlessError(`Cannot write remote job directory "${String(meta.write_remote_job)}": __meta__.write_remote_job is not supported by this jobserver`);
      }
      const result = message.dict.__language__ === "python"
        ? await runPythonJob(message.tfChecksum, message.dict, message.scratch, options.store, options.environment, hooks)
        : message.dict.__language__ === "bash"
          ? await runBashJob(message.dict, message.scratch, options.store, hooks)
          : (() => {
              throw new SeamlessError(`Cannot run a transformation in language "${String(message.dict.__language__)}": this jobserver runs bash and hands python to seamless-run-transformation`);
            })();
      if (controller.signal.aborted) send({ type: "canceled", id: message.id });
      else send({ type: "done", id: message.id, checksum: result.checksum, runtime: result.runtime });
    } catch (error) {
      if (controller.signal.aborted) send({ type: "canceled", id: message.id });
      else send({ type: "failed", id: message.id, message: boundedFailure((error as Error)?.message ?? String(error)) });
    } finally {
      running.delete(message.id);
    }
  };

  await new Promise<void>((resolve) => {
    options.channel.onMessage((message) => {
      if (message.type === "run") void run(message);
      else if (message.type === "cancel") running.get(message.id)?.abort();
    });
    options.channel.onDisconnect(() => {
      for (const controller of running.values()) controller.abort();
      // Every job's processes are killed before the worker goes.
      const waitForJobs = () => (running.size === 0 ? resolve() : setTimeout(waitForJobs, 10));
      waitForJobs();
    });
    send({ type: "ready", pid: process.pid });
  });
}
