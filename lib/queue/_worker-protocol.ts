/**
 * The messages between the worker pool (parent) and a `seamless worker` process, over the
 * Bun IPC channel. Internal to the pool: nothing outside `lib/queue/` spells them.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import type { PlainValue } from "../serialize/plain-json.ts";

/** What a worker measured for one job: the bash process tree's, not the server's (services-spec §4.5). */
export interface WorkerRuntime {
  startedAtMs: number;
  finishedAtMs: number;
  wallSeconds: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  memoryPeakBytes: number | null;
}

/** Parent → worker. */
export type ToWorker =
  | { type: "run"; id: number; tfChecksum: Checksum; dict: Record<string, PlainValue>; scratch: boolean }
  | { type: "cancel"; id: number };

/** Worker → parent. */
export type FromWorker =
  | { type: "ready"; pid: number }
  /** The job's command runs in process group `processGroup` (killed by the pool if the worker dies). */
  | { type: "started"; id: number; processGroup: number }
  | { type: "done"; id: number; checksum: Checksum; runtime: WorkerRuntime }
  | { type: "failed"; id: number; message: string; retryable?: boolean }
  | { type: "canceled"; id: number };
