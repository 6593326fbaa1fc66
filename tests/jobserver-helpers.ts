/** Test helpers for the jobserver: bash transformation dicts put into a buffer store, an executor the test drives. */
import type { BufferStore } from "../lib/buffers/store.ts";
import { computeChecksum } from "../lib/checksum/sha256.ts";
import { JobCanceledError, JobFailedError, type PoolJob, type PoolResult } from "../lib/queue/worker-pool.ts";
import { transformationBufferOf } from "../lib/transformation/dict.ts";
import type { PlainValue } from "../lib/serialize/plain-json.ts";

/** A stdout-capturing bash transformation of `command`, as `seamless run 'command'` builds it. */
export async function bashTransformation(store: BufferStore, command: string): Promise<{ dict: Record<string, PlainValue>; tf: string }> {
  const code = Buffer.from(`(\n${command}\n) > RESULT\n`);
  const codeChecksum = computeChecksum(code);
  await store.put(codeChecksum, code);
  const dict: Record<string, PlainValue> = { __language__: "bash", __output__: ["result", "bytes", null], code: ["text", null, codeChecksum] };
  return { dict, tf: transformationBufferOf(dict).checksum };
}

/** The checksum of the bytes `text`. */
export function checksumOfText(text: string): string {
  return computeChecksum(Buffer.from(text));
}

/** An executor that runs nothing: each job waits until the test finishes or fails it. */
export class FakeExecutor {
  jobs: { job: PoolJob; signal: AbortSignal; finish: (checksum: string) => void; fail: (message: string) => void }[] = [];
  run(job: PoolJob, signal: AbortSignal): Promise<PoolResult> {
    return new Promise((resolve, reject) => {
      signal.addEventListener("abort", () => reject(new JobCanceledError(job.tfChecksum)));
      this.jobs.push({
        job,
        signal,
        finish: (checksum) => resolve({ checksum, runtime: { startedAtMs: Date.parse("2026-01-01T00:00:00Z"), finishedAtMs: Date.parse("2026-01-01T00:00:02Z"), wallSeconds: 2.5, cpuUserSeconds: 0.25, cpuSystemSeconds: 0.125, memoryPeakBytes: 4096 } }),
        fail: (message) => reject(new JobFailedError(message)),
      });
    });
  }
}
